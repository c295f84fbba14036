/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * desktop: one desktop per user, started on demand, tracked, stopped.
 *
 * A desktop goes STARTING -> READY -> STOPPING -> gone. Whoever needs it
 * (a websocket) calls desktop_acquire() and is told, always from the loop
 * and never re-entrantly, when it is ready or failed.
 *
 * How a session is started is behind `struct launcher`, so the OCI-runtime
 * launcher (containers) can replace the fork/exec one (launcher_process_new).
 */
#ifndef BROKER_DESKTOP_H
#define BROKER_DESKTOP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "ab_err.h"
#include "ab_loop.h"

struct launcher;
struct launch;

enum launch_event {
	LAUNCH_READY,  /* the session serves DIR/rfb.sock and DIR/control.sock */
	LAUNCH_EXITED, /* the session is gone; `status` is a wait status or -errno */
	LAUNCH_EVENT_MAX,
};

/* Called from the loop. After LAUNCH_EXITED the launch may be released. */
typedef void (*launch_event_fn)(struct launch *launch, enum launch_event ev, int status,
                                void *data);

struct launch_request {
	const char *user;
	const char *runtime_dir;            /* exists, owned by the session's user, mode 0700 */
	const char *geometry;               /* WxH */
	const char *const *desktop_command; /* NULL-terminated */
	const char *const *env;             /* extra "NAME=value" for the session, or NULL */
};

struct launcher_ops {
	/* Starts a session without blocking. Events follow through fn. */
	int (*start)(struct launcher *l, const struct launch_request *req, launch_event_fn fn,
	             void *data, struct launch **ret, struct ab_err *err);
	/* Asks the session to stop (SIGTERM, then SIGKILL after the grace period). */
	void (*stop)(struct launcher *l, struct launch *launch);
	/* Frees a launch after LAUNCH_EXITED (or one never started). */
	void (*release)(struct launcher *l, struct launch *launch);
	/* The process id of the session's first process, or 0. */
	pid_t (*pid)(struct launcher *l, struct launch *launch);
	/* Stops every session and waits for them, at most timeout_ms (blocking: shutdown only). */
	void (*shutdown)(struct launcher *l, int64_t timeout_ms);
	void (*free)(struct launcher *l);
	/*
	 * Optional (NULL: cannot adopt). Takes back the session of `user` that
	 * outlived a previous broker; LAUNCH_READY follows from the loop (never
	 * from within the call), then events as after start.
	 */
	int (*adopt)(struct launcher *l, const char *user, const char *runtime_dir,
	             launch_event_fn fn, void *data, struct launch **ret, struct ab_err *err);
	/*
	 * Is `peer` (SO_PEERCRED of a socket reached through the user-writable
	 * runtime dir) this launch's session itself? 0, or -EPERM with what it
	 * is instead in err. Never NULL: a launcher that cannot tell refuses.
	 */
	int (*check_peer)(struct launcher *l, struct launch *launch, const struct ucred *peer,
	                  struct ab_err *err);
};

struct launcher {
	const struct launcher_ops *ops;
};

/*
 * The fork/exec launcher: runs
 *   <binary> --runtime-dir DIR --geometry WxH --ready-fd 3 -- CMD...
 * in its own process group and watches the ready pipe and a pidfd in `loop`.
 */
struct launcher *launcher_process_new(struct ab_loop *loop, const char *binary,
                                      int64_t stop_timeout_ms);

/*
 * keep: shutdown leaves the sessions running (session.stop_on_shutdown false)
 * for the next broker to adopt. No-op for other launchers.
 */
void launcher_process_keep_running(struct launcher *l, bool keep);

struct desktop_manager;
struct desktop;
struct desktop_waiter;

/*
 * Optional hooks (desktop state, docs/state-flow.md). prepare runs before a
 * desktop's session starts; it calls done(token, status, env) once, later,
 * from the loop (env: NULL-terminated "NAME=value" for the session, borrowed
 * for the call, or NULL); the session starts whatever the status. A prepare
 * that returns < 0 never calls done. on_message sees every control message
 * of a ready desktop other than hello/ping/pong/error (borrowed).
 */
typedef void (*desktop_prepare_done_fn)(void *token, int status, const char *const *env);
typedef int (*desktop_prepare_fn)(void *data, const char *user, const char *runtime_dir,
                                  desktop_prepare_done_fn done, void *token);
typedef void (*desktop_message_fn)(void *data, const char *user, json_t *msg);
/*
 * Optional: holds a desktop's start until what it runs on is ready (its profile's desktop
 * image being built, images.c). Returns 0: start now; 1: done(token, status, msg) is called
 * once, later, from the loop (status 0: start; < 0: the start fails with msg, borrowed), unless
 * cancel(data, token) is called first; < 0: never calls done (the start goes on, and the
 * launcher says what is wrong). The start timeout runs from the end of the hold.
 */
typedef void (*desktop_hold_done_fn)(void *token, int status, const char *msg);
typedef int (*desktop_hold_fn)(void *data, const char *user, desktop_hold_done_fn done,
                               void *token);
typedef void (*desktop_hold_cancel_fn)(void *data, void *token);
/*
 * Optional: the apps `user` may start, as the window manager's ARGOBOX_APPS
 * (comma list of profile app names or .desktop ids, "*" = all); malloc'ed,
 * NULL = none. Every session gets ARGOBOX_APPS (empty: deny all).
 */
typedef char *(*desktop_apps_fn)(void *data, const char *user);

struct desktop_params {
	const char *runtime_base;
	const char *geometry;
	json_t *desktop_command; /* array of strings, borrowed */
	int64_t start_timeout_ms;
	int64_t heartbeat_ms;
	int64_t control_timeout_ms;
	desktop_prepare_fn prepare; /* may be NULL */
	void *prepare_data;
	desktop_hold_fn hold; /* may be NULL; runs before prepare */
	desktop_hold_cancel_fn hold_cancel;
	void *hold_data;
	desktop_message_fn on_message; /* may be NULL */
	void *message_data;
	desktop_apps_fn apps; /* may be NULL: ARGOBOX_APPS is then left as it is */
	void *apps_data;
	/* each runtime dir on a tmpfs of its own (containers, as root: see desktop.c) */
	bool runtime_tmpfs;
};

struct desktop_manager *desktop_manager_new(struct ab_loop *loop, struct launcher *launcher,
                                            const struct desktop_params *p);
/* Stops every desktop and waits (bounded) for the sessions to exit. Blocking. */
void desktop_manager_shutdown(struct desktop_manager *m, int64_t timeout_ms);
void desktop_manager_free(struct desktop_manager *m);

/* `status` is 0 when the desktop is ready, -errno when it failed to start or died. */
typedef void (*desktop_ready_fn)(struct desktop *d, int status, void *data);

/*
 * Asks for `user`'s desktop, starting it when needed. fn runs once, later,
 * from the loop (even when the desktop is already ready). The waiter is
 * freed after fn ran or by desktop_waiter_cancel() before.
 */
int desktop_acquire(struct desktop_manager *m, const char *user, desktop_ready_fn fn, void *data,
                    struct desktop_waiter **ret, struct ab_err *err);
void desktop_waiter_cancel(struct desktop_waiter *w);

/* A client attached to a ready desktop holds a reference; counts are shown by list. */
void desktop_client_attach(struct desktop *d);
void desktop_client_detach(struct desktop *d);
/* A native VNC client (vncgw) attaches (true) or leaves (false): counted among the clients. */
void desktop_client_vnc(struct desktop *d, bool attached);
/* A browser sent a key or pointer event (the admin console's "last input"). */
void desktop_note_input(struct desktop *d);

const char *desktop_user(const struct desktop *d);
const char *desktop_rfb_path(const struct desktop *d);

/*
 * Connects to the session socket `name` ("rfb.sock", "control.sock") of a
 * ready desktop, non-blocking and close-on-exec, and keeps the connection
 * only when the peer (SO_PEERCRED) is that desktop's own session
 * (launcher check_peer). The runtime dir is writable from inside the
 * container, so the name may be a symlink to another user's socket or to a
 * root-only host socket, or a listener of the user's own: such a peer is
 * refused (-EPERM) before a byte goes either way, and audited as
 * desktop.socket_attack deny with the user, `via` (who asked: "websocket",
 * "vncgw", "control"), `source` (client address or NULL), what the name was
 * and who answered. Returns the fd or -errno.
 */
int desktop_connect(struct desktop *d, const char *name, const char *via, const char *source,
                    struct ab_err *err);

/*
 * Adopts `user`'s running session (a broker restart) through the launcher's
 * adopt op: the desktop is listed at once and becomes ready from the loop.
 * -EOPNOTSUPP when the launcher cannot adopt, -EEXIST when the user has one.
 */
int desktop_adopt(struct desktop_manager *m, const char *user, struct ab_err *err);

/*
 * At start-up: adopts every session still answering on
 * <runtime_base>/<user>/control.sock (a previous broker left it running),
 * through the launcher's adopt op. Users that already have a desktop are
 * skipped. Returns how many were adopted.
 */
int desktop_manager_adopt_running(struct desktop_manager *m);

/*
 * After the launcher adopted what still runs (isolation's adopt pass): the runtime-dir tmpfs of
 * every user without a desktop here is unmounted (a broker killed while that user's desktop was
 * starting, or whose desktop died while no broker watched, left it mounted, with the dead
 * session's sockets in it). Only the mount point itself is looked at, never a path inside it.
 * Returns how many were unmounted.
 */
int desktop_manager_release_stale(struct desktop_manager *m);

/*
 * Sends a control message to `user`'s ready desktop (the reference is stolen),
 * e.g. {"type":"notify","title":...,"body":...}. Returns -ENOENT when it has
 * no ready desktop with a control channel.
 */
int desktop_send(struct desktop_manager *m, const char *user, json_t *msg);
/*
 * Messages of `type` from ready desktops go to fn(data, user, msg) (msg borrowed) instead of
 * desktop_params.on_message: e.g. "thumb" answers to the thumbnails (broker/admin/thumbs.c).
 * At most DESKTOP_MAX_HOOKS types; fn NULL removes the hook. -ENOSPC when full.
 */
#define DESKTOP_MAX_HOOKS 4
int desktop_manager_on_message(struct desktop_manager *m, const char *type, desktop_message_fn fn,
                               void *data);

/* true while `user` has a desktop (starting, ready or stopping). */
bool desktop_exists(struct desktop_manager *m, const char *user);

/* Stops `user`'s desktop. Returns -ENOENT when it has none. */
int desktop_stop(struct desktop_manager *m, const char *user);

/*
 * [{"user","state","pid","runtime_dir","clients","uptime_ms","control","vnc_clients",
 * "input_ago_ms"}...] (new reference; input_ago_ms null before any input)
 */
json_t *desktop_manager_list(struct desktop_manager *m);
unsigned desktop_manager_count(struct desktop_manager *m);

/* true for names we accept as user names: [a-z0-9_][a-z0-9_.-]{0,31}. */
bool desktop_user_valid(const char *user);

#endif
