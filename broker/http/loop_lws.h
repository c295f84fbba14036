/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * loop_lws: common/ab_loop.h on top of the libwebsockets event loop, so the
 * broker keeps exactly one loop.
 *
 * File descriptor watches are libwebsockets RAW file adoptions of a dup() of
 * the caller's fd (the caller keeps its own fd); timers are lws_sul timers.
 * The vhost must list loop_lws_protocol among its protocols.
 *
 * Lifecycle: loop_lws_new() after the vhost exists; loop_lws_detach() just
 * before lws_context_destroy() (cancels timers, stops touching lws);
 * loop_lws_free() after it (frees what is left).
 */
#ifndef BROKER_LOOP_LWS_H
#define BROKER_LOOP_LWS_H

#include <libwebsockets.h>

#include "ab_loop.h"

#define LOOP_LWS_PROTOCOL_NAME "ab-loop-fd"

/* The protocol entry to put in the vhost's protocol list (never a websocket subprotocol). */
extern const struct lws_protocols loop_lws_protocol;

struct ab_loop *loop_lws_new(struct lws_context *ctx, struct lws_vhost *vhost);
void loop_lws_detach(struct ab_loop *loop);
void loop_lws_free(struct ab_loop *loop);

#endif
