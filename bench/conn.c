/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "conn.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ab_util.h"

static int
conn_fill(struct conn *c, struct ab_err *err)
{
	if (c->rpos == c->rlen)
		c->rpos = c->rlen = 0;
	for (;;) {
		int timeout = -1;
		if (c->deadline_us) {
			int64_t left = c->deadline_us - ab_now_us();
			if (left <= 0)
				return ab_err_set(err, ETIMEDOUT,
				                  "timed out waiting for the server");
			timeout = (int)((left + 999) / 1000);
		}
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int r = poll(&p, 1, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return ab_err_errno(err, errno, "poll");
		if (r == 0)
			continue; /* deadline checked above */
		ssize_t n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return ab_err_errno(err, errno, "recv");
		if (n == 0)
			return ab_err_set(err, EPIPE, "server closed the connection");
		c->rlen += (size_t)n;
		c->wire_bytes += (uint64_t)n;
		return 0;
	}
}

/* Exactly n bytes from the socket, below the websocket layer. */
static int
conn_raw_read(struct conn *c, void *buf, size_t n, struct ab_err *err)
{
	uint8_t *out = buf;
	while (n) {
		if (c->rpos == c->rlen) {
			int r = conn_fill(c, err);
			if (r < 0)
				return r;
		}
		size_t k = AB_MIN(n, c->rlen - c->rpos);
		memcpy(out, c->rbuf + c->rpos, k);
		c->rpos += k;
		out += k;
		n -= k;
	}
	return 0;
}

static int
conn_raw_write(struct conn *c, const void *buf, size_t n, struct ab_err *err)
{
	int r = ab_write_all(c->fd, buf, n);
	if (r < 0)
		return ab_err_errno(err, -r, "send");
	c->sent_bytes += n;
	return 0;
}

static int
conn_ws_send(struct conn *c, int opcode, const void *buf, size_t n, struct ab_err *err)
{
	uint8_t hdr[14];
	size_t h = 0;
	hdr[h++] = (uint8_t)(0x80 | opcode);
	if (n < 126) {
		hdr[h++] = (uint8_t)(0x80 | n);
	} else if (n < 65536) {
		hdr[h++] = 0x80 | 126;
		hdr[h++] = (uint8_t)(n >> 8);
		hdr[h++] = (uint8_t)n;
	} else {
		hdr[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			hdr[h++] = (uint8_t)((uint64_t)n >> (8 * i));
	}
	uint8_t mask[4];
	ab_random_bytes(mask, sizeof(mask));
	memcpy(hdr + h, mask, 4);
	h += 4;
	_cleanup_free_ uint8_t *frame = ab_xmalloc(h + n);
	memcpy(frame, hdr, h);
	const uint8_t *in = buf;
	for (size_t i = 0; i < n; i++)
		frame[h + i] = in[i] ^ mask[i & 3];
	return conn_raw_write(c, frame, h + n, err);
}

/* Reads frame headers until a data frame with payload is current. */
static int
conn_ws_next(struct conn *c, struct ab_err *err)
{
	while (c->ws_left == 0) {
		uint8_t h[2];
		int r = conn_raw_read(c, h, 2, err);
		if (r < 0)
			return r;
		int opcode = h[0] & 0x0f;
		uint64_t len = h[1] & 0x7f;
		if (len == 126) {
			uint8_t e[2];
			if ((r = conn_raw_read(c, e, 2, err)) < 0)
				return r;
			len = (uint64_t)e[0] << 8 | e[1];
		} else if (len == 127) {
			uint8_t e[8];
			if ((r = conn_raw_read(c, e, 8, err)) < 0)
				return r;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | e[i];
		}
		c->ws_masked = h[1] & 0x80;
		if (c->ws_masked && (r = conn_raw_read(c, c->ws_mask, 4, err)) < 0)
			return r;
		c->ws_off = 0;
		if (opcode == 0x0 || opcode == 0x1 || opcode == 0x2) {
			c->ws_left = len;
			continue;
		}
		if (len > 125)
			return ab_err_set(err, EPROTO, "websocket control frame of %llu bytes",
			                  (unsigned long long)len);
		uint8_t payload[125];
		if ((r = conn_raw_read(c, payload, (size_t)len, err)) < 0)
			return r;
		if (opcode == 0x8)
			return ab_err_set(err, EPIPE, "server sent a websocket close");
		if (opcode == 0x9 && (r = conn_ws_send(c, 0xA, payload, (size_t)len, err)) < 0)
			return r;
		/* 0xA (pong) and unknown control frames are skipped */
	}
	return 0;
}

int
conn_read(struct conn *c, void *buf, size_t n, struct ab_err *err)
{
	if (!c->ws)
		return conn_raw_read(c, buf, n, err);
	uint8_t *out = buf;
	while (n) {
		int r = conn_ws_next(c, err);
		if (r < 0)
			return r;
		size_t k = (size_t)AB_MIN((uint64_t)n, c->ws_left);
		if ((r = conn_raw_read(c, out, k, err)) < 0)
			return r;
		if (c->ws_masked)
			for (size_t i = 0; i < k; i++)
				out[i] ^= c->ws_mask[(c->ws_off + i) & 3];
		c->ws_off += k;
		c->ws_left -= k;
		out += k;
		n -= k;
	}
	return 0;
}

int
conn_write(struct conn *c, const void *buf, size_t n, struct ab_err *err)
{
	if (c->ws)
		return conn_ws_send(c, 0x2, buf, n, err);
	return conn_raw_write(c, buf, n, err);
}

int
conn_wait(struct conn *c, int timeout_ms)
{
	if (c->rpos < c->rlen)
		return 1;
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	int r;
	do {
		r = poll(&p, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r > 0;
}

static int
conn_tcp(const char *host, const char *port, struct ab_err *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int r = getaddrinfo(host, port, &hints, &res);
	if (r != 0)
		return ab_err_set(err, EINVAL, "resolving '%s': %s", host, gai_strerror(r));
	int fd = -1, saved = ECONNREFUSED;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return ab_err_errno(err, saved, "connecting to %s:%s", host, port);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int
conn_unix(const char *path, struct ab_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return ab_err_set(err, ENAMETOOLONG, "socket path '%s' is too long", path);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ab_err_errno(err, errno, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return ab_err_errno(err, e, "connecting to '%s'", path);
	}
	return fd;
}

static int
conn_ws_handshake(struct conn *c, const char *hostport, const char *path, struct ab_err *err)
{
	uint8_t key[16];
	char b64[32];
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	ab_random_bytes(key, sizeof(key));
	size_t o = 0;
	for (size_t i = 0; i < 16; i += 3) {
		uint32_t v = (uint32_t)key[i] << 16;
		if (i + 1 < 16)
			v |= (uint32_t)key[i + 1] << 8;
		if (i + 2 < 16)
			v |= key[i + 2];
		b64[o++] = tab[(v >> 18) & 63];
		b64[o++] = tab[(v >> 12) & 63];
		b64[o++] = i + 1 < 16 ? tab[(v >> 6) & 63] : '=';
		b64[o++] = i + 2 < 16 ? tab[v & 63] : '=';
	}
	b64[o] = 0;
	/* a signed-in viewer (bench/load_bench.sh): the session cookie and the page's origin */
	const char *cookie = getenv("AB_WS_COOKIE"), *origin = getenv("AB_WS_ORIGIN");
	_cleanup_free_ char *extra = ab_xasprintf(
	    "%s%s%s%s%s%s", cookie ? "Cookie: " : "", cookie ? cookie : "", cookie ? "\r\n" : "",
	    origin ? "Origin: " : "", origin ? origin : "", origin ? "\r\n" : "");
	_cleanup_free_ char *req =
	    ab_xasprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
	                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
	                 "Sec-WebSocket-Version: 13\r\n"
	                 "Sec-WebSocket-Protocol: binary\r\n%s\r\n",
	                 path, hostport, b64, extra);
	int r = conn_raw_write(c, req, strlen(req), err);
	if (r < 0)
		return r;
	/* Read the response header byte by byte so no frame bytes are consumed. */
	char resp[4096];
	size_t n = 0;
	while (n < 4 || memcmp(resp + n - 4, "\r\n\r\n", 4) != 0) {
		if (n + 1 >= sizeof(resp))
			return ab_err_set(err, EPROTO, "websocket handshake response too long");
		if ((r = conn_raw_read(c, resp + n, 1, err)) < 0)
			return ab_err_wrap(err, "websocket handshake");
		n++;
	}
	resp[n] = 0;
	if (strncmp(resp, "HTTP/1.1 101", 12) != 0) {
		char *eol = strchr(resp, '\r');
		if (eol)
			*eol = 0;
		return ab_err_set(err, EPROTO, "websocket handshake refused: '%s'", resp);
	}
	return 0;
}

int
conn_open(struct conn *c, const char *target, struct ab_err *err)
{
	c->fd = -1;
	c->ws = false;
	c->ws_left = 0;
	c->wire_bytes = c->sent_bytes = 0;
	c->rpos = c->rlen = 0;
	if (strncmp(target, "unix:", 5) == 0) {
		int fd = conn_unix(target + 5, err);
		if (fd < 0)
			return fd;
		c->fd = fd;
		return 0;
	}
	bool ws = strncmp(target, "ws://", 5) == 0;
	if (!ws && strncmp(target, "tcp:", 4) != 0)
		return ab_err_set(
		    err, EINVAL,
		    "target '%s' is not unix:PATH, tcp:HOST:PORT or ws://HOST:PORT/PATH", target);
	const char *hp = target + (ws ? 5 : 4);
	const char *slash = ws ? strchr(hp, '/') : NULL;
	_cleanup_free_ char *hostport =
	    slash ? ab_xstrndup(hp, (size_t)(slash - hp)) : ab_xstrdup(hp);
	char *colon = strrchr(hostport, ':');
	if (!colon)
		return ab_err_set(err, EINVAL, "target '%s' has no port", target);
	_cleanup_free_ char *host = ab_xstrndup(hostport, (size_t)(colon - hostport));
	int fd = conn_tcp(host, colon + 1, err);
	if (fd < 0)
		return fd;
	c->fd = fd;
	if (!ws)
		return 0;
	int r = conn_ws_handshake(c, hostport, slash ? slash : "/", err);
	if (r < 0) {
		conn_close(c);
		return r;
	}
	c->ws = true;
	return 0;
}

void
conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
