/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * control: the session's two framed-JSON sockets (docs/control-channel.md).
 *
 *   DIR/control.sock  the broker connects here: hello, ping/pong heartbeat,
 *                     error; the session relays desktop state and
 *                     desktop_exit to it, and every other message type of
 *                     the broker's (notify, theme, restore, ...) to the
 *                     window manager, rate-limited.
 *   DIR/wm.sock       the desktop (window manager) connects here and sends
 *                     {"type":"state","state":{...}}; the latest state is kept
 *                     while no broker is connected and sent when one says hello.
 *
 * One connection per socket at a time: a new broker (or wm) connection
 * replaces the old one (a restarted broker re-adopts its desktops).
 * Everything runs on the given ab_loop; nothing blocks.
 */
#ifndef SESSION_CONTROL_H
#define SESSION_CONTROL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ab_err.h"
#include "ab_loop.h"
#include "ab_proto.h"

/* Bytes queued to one peer before it is considered stuck and dropped. */
#define CONTROL_OUT_MAX (8u << 20)
/* Notifications kept for a window manager that is not connected yet. */
#define CONTROL_NOTIFY_QUEUE 64
/* Broker -> wm relay: messages a second and burst (beyond: dropped, error to the broker). */
#define CONTROL_RELAY_RATE  50
#define CONTROL_RELAY_BURST 100
/* the desktop's requests to the broker (services_request): 10 a second, bursts of 20 */
#define CONTROL_REQUEST_RATE  10
#define CONTROL_REQUEST_BURST 20
/* Pings without a pong before the broker connection is dropped. */
#define CONTROL_MAX_MISSED 3

struct control_conn {
	struct control *ctl;
	int fd;
	struct ab_watch *watch;
	struct ab_proto_reader rd;
	char *out;
	size_t out_len, out_cap;
	bool hello; /* peer said hello (broker) */
	bool is_broker;
	bool dead;
};

struct control {
	struct ab_loop *loop;
	int broker_listen, wm_listen;
	struct ab_watch *broker_lw, *wm_lw;
	struct control_conn *broker, *wm;
	json_t *state; /* latest desktop state: from the wm, or a broker "restore"; or NULL */
	json_t *notify_queue; /* array of notify messages waiting for a wm */
	char session_id[128];
	int64_t heartbeat_ms;
	struct ab_timer *hb_timer;
	int64_t ping_seq;
	int missed;
	/* counters (tests, metrics) */
	unsigned long states_relayed, notifies_relayed, pongs, relays_dropped;
	json_t *last_exit; /* desktop_exit not yet sent to a broker */
	bool wm_ready; /* a window manager said hello: "wm_ready" went (or goes) to the broker */
	json_t *isolation; /* latest "isolation" message, sent after each hello */
	/* the broker's "thumb" request: the answer (control_on_thumb) */
	json_t *(*thumb)(void *data, json_t *req);
	void *thumb_data;
	int64_t relay_tokens, relay_last_ms; /* relay rate limit */
	int64_t req_tokens, req_last_ms;     /* request rate limit (wm -> broker) */
};

/*
 * Listens on dir/control.sock and dir/wm.sock (mode 0600) and registers with
 * `loop`. Returns 0 or -errno; on failure nothing is left behind.
 */
int control_open(struct control *ctl, struct ab_loop *loop, const char *dir, const char *session_id,
                 int64_t heartbeat_ms, struct ab_err *err);
void control_close(struct control *ctl);

/*
 * Handles one message received from a connection (exported for unit tests).
 * Returns 0, or -EPROTO when the connection must be closed (after the error
 * message was queued).
 */
int control_handle(struct control_conn *c, json_t *msg);

/*
 * Tells the broker the desktop command exited (wait status `status`):
 * {"type":"desktop_exit","status":N|null,"signal":S,"restarting":B}. Kept until
 * a broker has said hello when none is connected (only the latest).
 */
void control_desktop_exit(struct control *ctl, int status, bool restarting);

/*
 * How the session confined the desktop command, for the broker's audit:
 * {"type":"isolation","landlock":{...}} (`landlock` is stolen). Sent now
 * when a broker is connected and again to every broker that says hello
 * (a restarted broker re-adopting the desktop learns it too).
 */
void control_isolation(struct control *ctl, json_t *landlock);

/*
 * Answers the broker's {"type":"thumb","id","width"} with fn's message (a new reference:
 * {"type":"thumb","id","format","width","height","data"} or an "error"). Not relayed to the
 * window manager. Without fn, the request gets an error.
 */
void control_on_thumb(struct control *ctl, json_t *(*fn)(void *data, json_t *req), void *data);

#endif
