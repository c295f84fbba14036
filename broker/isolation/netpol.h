/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netpol: one network namespace per user, a veth pair to the host and
 * nftables rules in the host namespace (libmnl + libnftnl, never `nft`).
 *
 * For the user in slot n the subnet is pool + 4n /30: the host side of the
 * veth ("ab<n>h") gets .1, the namespace side ("eth0" inside) gets .2 and a
 * default route via .1. The namespace is bind-mounted at
 * <netns_dir>/<prefix><user> for the runtime to join.
 *
 * Rules live in table `inet <table>`, in per-user base chains (so removing a
 * user is deleting their chains, and one user's accept never overrides
 * another's drop):
 *   <user>-fwd  hook forward : traffic into the namespace: only replies;
 *                              from it: replies; never to the pool (other
 *                              users); DNS only to the allowed resolver
 *                              (non-admins); the user's service set
 *                              "<user>-svc" (every role); then by role:
 *                              admin all, member LAN ranges;
 *                              everything else counted and dropped.
 *   <user>-in   hook input   : from the namespace to the host itself: replies,
 *                              the resolver, the service set, admin all, else drop.
 *   <user>-nat  hook postrouting (nat): masquerade the user's subnet.
 * Every drop rule carries a counter and a comment ("deny:<kind>");
 * netpol_poll() reads them and audits new drops (event "net.deny").
 * Root inside the container cannot touch any of this: it has no capability
 * in the host's network namespace.
 */
#ifndef BROKER_NETPOL_H
#define BROKER_NETPOL_H

#include <stdbool.h>
#include <stdint.h>

#include "ab_err.h"
#include "bundle.h"

struct netpol_config {
	char pool[32];          /* "10.88.0.0/16" */
	char netns_dir[128];    /* "/run/netns" */
	char netns_prefix[32];  /* "argobox-" */
	char table[32];         /* "argobox" */
	char resolver[16];      /* allowed DNS resolver (IPv4), "" = none for non-admins */
	bool enable_forwarding; /* sets net.ipv4.ip_forward=1 in the host namespace */
	bool masquerade;        /* NAT the users' subnets on egress */
};

/* The defaults, as an initializer (also for configs that embed a netpol_config). */
#define NETPOL_DEFAULT_CONFIG                                                                      \
	{                                                                                          \
		.pool = "10.88.0.0/16", .netns_dir = "/run/netns", .netns_prefix = "argobox-",     \
		.table = "argobox", .resolver = "", .enable_forwarding = true, .masquerade = true, \
	}

extern const struct netpol_config netpol_default_config;

struct netpol_cidr {
	uint32_t addr; /* network byte order */
	uint8_t prefix;
};

struct netpol_service {
	uint32_t addr; /* network byte order */
	uint16_t port; /* host byte order */
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
};

/* One user's policy; arrays borrowed for the call. */
struct netpol_user {
	const char *user;
	enum runtime_role role;
	unsigned index;
	const struct netpol_cidr *lan; /* members: reachable LAN ranges */
	size_t n_lan;
	const struct netpol_service *services; /* entitled services (all roles) */
	size_t n_services;
};

struct netpol;

int netpol_new(const struct netpol_config *cfg, struct netpol **ret, struct ab_err *err);
void netpol_free(struct netpol *np);

/* Parses "a.b.c.d/len" (or "a.b.c.d" = /32). */
int netpol_parse_cidr(const char *s, struct netpol_cidr *ret, struct ab_err *err);
/* Parses "tcp:a.b.c.d:port" / "udp:...". */
int netpol_parse_service(const char *s, struct netpol_service *ret, struct ab_err *err);

/*
 * Creates the user's namespace, veth pair, addresses, routes and rules.
 * An existing namespace of the same name is replaced. On success
 * *ret_netns_path (owned) is the namespace path for the runtime.
 * Audits "net.policy" grant (or failure).
 */
int netpol_add(struct netpol *np, const struct netpol_user *u, char **ret_netns_path,
               struct ab_err *err);

/*
 * Re-registers a user whose namespace already exists (broker restart) and
 * re-programs the rules from the current policy, without touching the
 * namespace or the veth. -ENOENT when the namespace is gone.
 */
int netpol_adopt(struct netpol *np, const struct netpol_user *u, char **ret_netns_path,
                 struct ab_err *err);

/* Removes the user's rules, veth and namespace. Missing pieces are fine. Audits. */
int netpol_remove(struct netpol *np, const char *user, unsigned index, struct ab_err *err);

/* The addresses of slot `index` (dotted quads, 16 bytes each). */
int netpol_addresses(struct netpol *np, unsigned index, char *ret_host, char *ret_ctr,
                     struct ab_err *err);

/*
 * Reads the drop counters of every registered user and audits the drops
 * since the last poll ("net.deny", deny, detail {kind, packets}). Returns
 * the number of users with new drops, or -errno. Call it from a timer.
 */
int netpol_poll(struct netpol *np, struct ab_err *err);

/*
 * The services a user's desktop may reach are the elements of its set "<user>-svc" in the
 * table (both the forward and the input chain accept what it holds). These change it in
 * place, for a running desktop: no chain is flushed, nothing else changes, and the change is
 * one transaction. New connections follow at once; established ones are left to end.
 */
struct netpol_set_change {
	struct netpol_service *added, *removed; /* owned; netpol_set_change_free() */
	size_t n_added, n_removed;
};
/*
 * Makes the user's set hold exactly `svc` (duplicates are fine). *ret (may be NULL) says
 * what changed. -ENOENT when the user has no set (no network here). Not audited: the caller
 * knows the services' names.
 */
int netpol_set_services(struct netpol *np, const char *user, const struct netpol_service *svc,
                        size_t n, struct netpol_set_change *ret, struct ab_err *err);
void netpol_set_change_free(struct netpol_set_change *ch);
/* The set's elements as the kernel has them (*ret owned, freed with free()). */
int netpol_get_services(struct netpol *np, const char *user, struct netpol_service **ret,
                        size_t *ret_n, struct ab_err *err);
/* "tcp:a.b.c.d:port" (48 bytes are enough). */
void netpol_service_format(const struct netpol_service *s, char *buf, size_t len);

/* Dropped packets counted so far for `user` under `kind` ("any" = all kinds). */
int64_t netpol_drops(struct netpol *np, const char *user, const char *kind);

#endif
