/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * control: the broker's end of a session's control channel
 * (docs/control-channel.md): connects to DIR/control.sock, says hello,
 * answers pings, sends a heartbeat ping every heartbeat_ms and declares the
 * session dead when nothing arrived for timeout_ms or the channel breaks.
 */
#ifndef BROKER_CONTROL_H
#define BROKER_CONTROL_H

#include <jansson.h>
#include <stdint.h>

#include "ab_err.h"
#include "ab_loop.h"

struct desktop_control;

/* Called once when the channel fails; `why` is borrowed. Don't free the control inside it. */
typedef void (*desktop_control_dead_fn)(struct desktop_control *c, const char *why, void *data);
/* Called for every message other than hello/ping/pong/error (borrowed). */
typedef void (*desktop_control_msg_fn)(struct desktop_control *c, json_t *msg, void *data);

struct desktop_control_params {
	const char *path;
	int64_t heartbeat_ms;
	int64_t timeout_ms;
	desktop_control_dead_fn on_dead;
	desktop_control_msg_fn on_msg; /* may be NULL */
	void *data;
};

/* Connects and sends hello. Fails (-errno) when the socket cannot be reached. */
int desktop_control_open(struct ab_loop *loop, const struct desktop_control_params *p,
                         struct desktop_control **ret, struct ab_err *err);
/*
 * The same over a socket the caller connected (and checked: desktop_connect);
 * the fd is taken, also on failure. p->path only names it in messages.
 */
int desktop_control_open_fd(struct ab_loop *loop, const struct desktop_control_params *p,
                            int connected_fd, struct desktop_control **ret, struct ab_err *err);

/* Sends a message (the reference is stolen). Returns 0 or -errno. */
int desktop_control_send(struct desktop_control *c, json_t *msg);

/* true once the session's hello arrived. */
bool desktop_control_hello_seen(const struct desktop_control *c);
/* Milliseconds of the last pong round trip, -1 before the first. */
int64_t desktop_control_rtt_ms(const struct desktop_control *c);

/* Closes the channel; accepts NULL; never calls on_dead. */
void desktop_control_close(struct desktop_control *c);

#endif
