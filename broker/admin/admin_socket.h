/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ctl: the admin socket argoboxctl talks to (a unix stream socket, mode
 * 0600, peers must be root or the broker's own uid). Framing and message
 * envelope as the control channel (common/ab_proto.h); requests (docs/argoboxctl.md):
 *   {"type":"status"}            -> {"type":"status","pid","port","desktops","connections",...}
 *   {"type":"list"}              -> {"type":"list","desktops":[{...,"profile"}...]}
 *   {"type":"desktop","action":"stop"|"restart"|"destroy","user":"bea"}
 *                                -> {"type":"desktop",...}
 *   {"type":"stop","user":"bea"} -> {"type":"stop","ok":true} (the older form of the above)
 *   {"type":"state","action":"show"|"reset","user":"bea"}
 *                                -> {"type":"state","status":200,"result":{...}}
 *   {"type":"broadcast","title","body","urgency","user"|"profile"|"all":true}
 *                                -> {"type":"broadcast","delivered":[...],"skipped":n}
 *   services_list, services_status, services_restart (admin_socket_set_services below)
 * A refusal or failure is {"type":"error","msg","code"}: code "invalid", "not_found",
 * "refused" or "error" (argoboxctl's exit status 2... follows it). restart and state go
 * through the broker's own routes (server_dispatch_local) as the admin "argoboxctl", so the
 * areas decide and audit them as for the web console. Every request that is not a read is
 * audited as admin.ctl with the peer's uid and name (SO_PEERCRED), the command, the target
 * and the result.
 */
#ifndef BROKER_CTL_H
#define BROKER_CTL_H

#include "ab_err.h"
#include "ab_loop.h"

struct admin_socket;
struct server;
struct desktop_manager;

int admin_socket_open(struct ab_loop *loop, const char *path, struct server *srv,
                      struct desktop_manager *m, struct admin_socket **ret, struct ab_err *err);
/* Closes every client, removes the socket file. Accepts NULL. */
void admin_socket_close(struct admin_socket *c);
/*
 * How `stop` ends a desktop: fn(data, user) returns 0 once the desktop is
 * being stopped, or -ENOENT when there is none. Without it (or before it is
 * set), desktop_stop() at once. deskstate_sync_end() asks the window manager
 * for its state first, so nothing it had not yet published is lost.
 */
typedef int (*admin_socket_stop_fn)(void *data, const char *user);
void admin_socket_set_stop(struct admin_socket *c, admin_socket_stop_fn fn, void *data);

/*
 * The services (borrowed; NULL: none) for `argoboxctl services ...`:
 *   {"type":"services_list"}                 -> {"type":"services_list","services":[...]}
 *   {"type":"services_status","name":"x"}    -> {"type":"services_status","service":{...}}
 *   {"type":"services_restart","name":"x"}   -> {"type":"services_restart","ok":true}
 *   {"type":"services_diag","name":"x"}      -> starts one: {"type":"services_diag",
 *                                               "running","last_id","results":[...]}
 *   {"type":"services_diag_result","name":"x"} -> the same, without starting one
 *   {"type":"services_reload"}               -> {"type":"services_reload","added":[...],
 *                                               "removed","changed","kept","services":n}
 * (audited as service.restart by "argoboxctl").
 */
/* The profile of a user's desktop (list, broadcast to a profile); NULL: none. */
typedef const char *(*admin_socket_profile_fn)(void *data, const char *user);
void admin_socket_set_profiles(struct admin_socket *c, admin_socket_profile_fn fn, void *data);

/*
 * The console's user management (borrowed; NULL: none) for `argoboxctl users ...`:
 *   {"type":"users","action":"list"}                  -> {"type":"users","result":{...}}
 *   {"type":"users","action":A,"name":N,"body":{...}} -> the same (users_admin_do)
 */
struct users_admin;
void admin_socket_set_users(struct admin_socket *c, struct users_admin *ua);
/* The console's actions (borrowed; NULL: none): desktop stop/restart/destroy and broadcast. */
struct admin_api;
void admin_socket_set_admin_api(struct admin_socket *c, struct admin_api *a);

struct services;
void admin_socket_set_services(struct admin_socket *c, struct services *svc);

/*
 * The audit service (borrowed; NULL: none) for `argoboxctl audit report`:
 *   {"type":"audit_report","from":"2026-12-01","to":"2026-12-08","user":"bea","limit":100}
 *     -> {"type":"audit_report","report":{...}} (broker/audit/auditreport.h)
 * (audited as admin.audit.report by "argoboxctl").
 */
struct auditsvc;
void admin_socket_set_audit(struct admin_socket *c, struct auditsvc *a);

#endif
