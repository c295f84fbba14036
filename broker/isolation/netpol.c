/* SPDX-License-Identifier: GPL-2.0-or-later */
/* netpol: per-user netns + veth + nftables rules via libmnl/libnftnl (see netpol.h). */
#include "netpol.h"
#include "ab_log.h"
#include "ab_util.h"
#include "audit.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/if_link.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

const struct netpol_config netpol_default_config = NETPOL_DEFAULT_CONFIG;

struct drop_count {
	char user[BUNDLE_USER_MAX + 1];
	char kind[24];
	int64_t packets;
};

struct netpol {
	struct netpol_config cfg;
	struct netpol_cidr pool;
	uint32_t resolver; /* network order, 0 = none */
	uint32_t seq;
	struct drop_count *seen;
	size_t n_seen;
	bool forward_ours; /* ArgoBox turned net.ipv4.ip_forward on (this run or an earlier one) */
};

/* ---- parsing ---- */

int
netpol_parse_cidr(const char *s, struct netpol_cidr *ret, struct ab_err *err)
{
	char buf[32];
	if (!s || strlen(s) >= sizeof(buf))
		return ab_err_set(err, EINVAL, "bad CIDR '%s'", s ? s : "(null)");
	snprintf(buf, sizeof(buf), "%s", s);
	long prefix = 32;
	char *slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		char *end;
		prefix = strtol(slash + 1, &end, 10);
		if (*end || end == slash + 1 || prefix < 0 || prefix > 32)
			return ab_err_set(err, EINVAL, "bad prefix length in '%s'", s);
	}
	struct in_addr a;
	if (inet_pton(AF_INET, buf, &a) != 1)
		return ab_err_set(err, EINVAL, "bad IPv4 address in '%s'", s);
	uint32_t mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
	ret->addr = a.s_addr & mask;
	ret->prefix = (uint8_t)prefix;
	return 0;
}

int
netpol_parse_service(const char *s, struct netpol_service *ret, struct ab_err *err)
{
	char buf[48];
	if (!s || strlen(s) >= sizeof(buf))
		return ab_err_set(err, EINVAL, "bad service '%s'", s ? s : "(null)");
	snprintf(buf, sizeof(buf), "%s", s);
	char *c1 = strchr(buf, ':');
	char *c2 = c1 ? strrchr(buf, ':') : NULL;
	if (!c1 || c1 == c2)
		return ab_err_set(err, EINVAL, "service '%s': expected proto:addr:port", s);
	*c1 = *c2 = '\0';
	uint8_t proto;
	if (!strcmp(buf, "tcp"))
		proto = IPPROTO_TCP;
	else if (!strcmp(buf, "udp"))
		proto = IPPROTO_UDP;
	else
		return ab_err_set(err, EINVAL, "service '%s': protocol must be tcp or udp", s);
	struct in_addr a;
	if (inet_pton(AF_INET, c1 + 1, &a) != 1)
		return ab_err_set(err, EINVAL, "service '%s': bad address", s);
	char *end;
	long port = strtol(c2 + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return ab_err_set(err, EINVAL, "service '%s': bad port", s);
	ret->proto = proto;
	ret->addr = a.s_addr;
	ret->port = (uint16_t)port;
	return 0;
}

static void forwarding_on(struct netpol *np);
static void forwarding_restore(struct netpol *np);

int
netpol_new(const struct netpol_config *cfg, struct netpol **ret, struct ab_err *err)
{
	struct netpol_cidr pool;
	int r = netpol_parse_cidr(cfg->pool, &pool, err);
	if (r < 0)
		return ab_err_wrap(err, "network.pool");
	if (pool.prefix > 29)
		return ab_err_set(err, EINVAL, "network.pool '%s' is too small", cfg->pool);
	uint32_t resolver = 0;
	if (cfg->resolver[0]) {
		struct in_addr a;
		if (inet_pton(AF_INET, cfg->resolver, &a) != 1)
			return ab_err_set(err, EINVAL, "network.resolver '%s' is not IPv4",
			                  cfg->resolver);
		resolver = a.s_addr;
	}
	if (!cfg->table[0] || !cfg->netns_prefix[0] || strchr(cfg->netns_prefix, '/'))
		return ab_err_set(err, EINVAL, "network: empty table name or bad netns prefix");
	if ((r = ab_mkdir_p(cfg->netns_dir, 0755, err)) < 0)
		return r;
	struct netpol *np = ab_xcalloc(1, sizeof(*np));
	np->cfg = *cfg;
	np->pool = pool;
	np->resolver = resolver;
	np->seq = (uint32_t)time(NULL);
	if (cfg->enable_forwarding)
		forwarding_on(np);
	*ret = np;
	return 0;
}

void
netpol_free(struct netpol *np)
{
	if (!np)
		return;
	forwarding_restore(np);
	free(np->seen);
	free(np);
}

static int
slot_net(struct netpol *np, unsigned index, uint32_t *ret_net, struct ab_err *err)
{
	uint64_t slots = 1ull << (30 - np->pool.prefix);
	if (index >= slots)
		return ab_err_set(err, ERANGE, "slot %u does not fit network.pool '%s'", index,
		                  np->cfg.pool);
	*ret_net = htonl(ntohl(np->pool.addr) + index * 4u);
	return 0;
}

int
netpol_addresses(struct netpol *np, unsigned index, char *ret_host, char *ret_ctr,
                 struct ab_err *err)
{
	uint32_t net = 0;
	int r = slot_net(np, index, &net, err);
	if (r < 0)
		return r;
	struct in_addr h = {htonl(ntohl(net) + 1)}, c = {htonl(ntohl(net) + 2)};
	inet_ntop(AF_INET, &h, ret_host, 16);
	inet_ntop(AF_INET, &c, ret_ctr, 16);
	return 0;
}

/*
 * The host end of a slot's veth: "<netns_prefix><index>h" when that fits
 * IFNAMSIZ (the default "argobox-" gives argobox-3h), else "ab<8 hex of
 * the prefix's hash><index>h", so two brokers with different prefixes on
 * one host never share a name (issue 12 N8).
 */
static void
host_ifname(const struct netpol *np, unsigned index, char out[IFNAMSIZ])
{
	const char *p = np->cfg.netns_prefix;
	bool plain = true;
	for (const char *c = p; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.'))
			plain = false;
	int n = plain ? snprintf(out, IFNAMSIZ, "%s%uh", p, index) : IFNAMSIZ;
	if (n < IFNAMSIZ)
		return;
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *c = p; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	snprintf(out, IFNAMSIZ, "ab%08x%uh", h, index % 10000);
}

/* The name brokers before issue 12 N8 gave every slot, whatever the prefix. */
static void
legacy_ifname(unsigned index, char out[IFNAMSIZ])
{
	snprintf(out, IFNAMSIZ, "ab%uh", index);
}

static char *
netns_path(struct netpol *np, const char *user)
{
	return ab_xasprintf("%s/%s%s", np->cfg.netns_dir, np->cfg.netns_prefix, user);
}

/* ---- netlink plumbing ---- */

static void
mnl_closep(struct mnl_socket **nl)
{
	if (*nl)
		mnl_socket_close(*nl);
}
#define _cleanup_mnl_ _cleanup_(mnl_closep)

static struct mnl_socket *
nl_open(int bus)
{
	struct mnl_socket *nl = mnl_socket_open2(bus, SOCK_CLOEXEC);
	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		mnl_socket_close(nl);
		errno = e;
		return NULL;
	}
	struct timeval tv = {.tv_sec = 2};
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return nl;
}

/*
 * Reads replies until the one for `last_seq` (an ack or error). Returns 0 or
 * the first -errno any message got. With `dump_cb`, reads a dump until DONE.
 */
static int
nl_wait(struct mnl_socket *nl, uint32_t last_seq, mnl_cb_t dump_cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 4];
	int first = 0;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; mnl_nlmsg_ok(h, (int)n);
		     h = mnl_nlmsg_next(h, (int *)&n)) {
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
				if (e->error && !first)
					first = e->error;
				if (h->nlmsg_seq == last_seq || (dump_cb && e->error))
					return first;
			} else if (h->nlmsg_type == NLMSG_DONE) {
				if (dump_cb)
					return first;
			} else if (dump_cb && h->nlmsg_seq == last_seq) {
				dump_cb(h, data);
			}
		}
	}
}

static int
rtnl_talk(struct mnl_socket *nl, struct nlmsghdr *h)
{
	if (mnl_socket_sendto(nl, h, h->nlmsg_len) < 0)
		return -errno;
	return nl_wait(nl, h->nlmsg_seq, NULL, NULL);
}

static struct nlmsghdr *
rt_msg(char *buf, uint16_t type, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	h->nlmsg_seq = seq;
	return h;
}

static int
link_add_veth(struct mnl_socket *nl, uint32_t seq, const char *host, const char *peer,
              int peer_nsfd)
{
	char buf[1024] = {0};
	struct nlmsghdr *h = rt_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, seq);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(h, IFLA_IFNAME, host);
	struct nlattr *li = mnl_attr_nest_start(h, IFLA_LINKINFO);
	mnl_attr_put_strz(h, IFLA_INFO_KIND, "veth");
	struct nlattr *data = mnl_attr_nest_start(h, IFLA_INFO_DATA);
	struct nlattr *pe = mnl_attr_nest_start(h, VETH_INFO_PEER);
	struct ifinfomsg *pifi = mnl_nlmsg_put_extra_header(h, sizeof(*pifi));
	pifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(h, IFLA_IFNAME, peer);
	mnl_attr_put_u32(h, IFLA_NET_NS_FD, (uint32_t)peer_nsfd);
	mnl_attr_nest_end(h, pe);
	mnl_attr_nest_end(h, data);
	mnl_attr_nest_end(h, li);
	return rtnl_talk(nl, h);
}

/* A request of `type` about the link `ifindex`, its ifinfomsg returned for the caller to fill. */
static struct nlmsghdr *
link_msg(char *buf, uint16_t type, uint32_t seq, int ifindex, struct ifinfomsg **ret_ifi)
{
	struct nlmsghdr *h = rt_msg(buf, type, 0, seq);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	*ret_ifi = ifi;
	return h;
}

static int
link_up(struct mnl_socket *nl, uint32_t seq, int ifindex)
{
	char buf[256] = {0};
	struct ifinfomsg *ifi;
	struct nlmsghdr *h = link_msg(buf, RTM_NEWLINK, seq, ifindex, &ifi);
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return rtnl_talk(nl, h);
}

static int
link_del(struct mnl_socket *nl, uint32_t seq, int ifindex)
{
	char buf[256] = {0};
	struct ifinfomsg *ifi;
	return rtnl_talk(nl, link_msg(buf, RTM_DELLINK, seq, ifindex, &ifi));
}

static int
addr_add(struct mnl_socket *nl, uint32_t seq, int ifindex, uint32_t addr, uint8_t prefix)
{
	char buf[256] = {0};
	struct nlmsghdr *h = rt_msg(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, seq);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = prefix;
	ifa->ifa_index = (unsigned)ifindex;
	mnl_attr_put_u32(h, IFA_LOCAL, addr);
	mnl_attr_put_u32(h, IFA_ADDRESS, addr);
	return rtnl_talk(nl, h);
}

static int
route_default(struct mnl_socket *nl, uint32_t seq, uint32_t gw, int ifindex)
{
	char buf[256] = {0};
	struct nlmsghdr *h = rt_msg(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, seq);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(h, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(h, RTA_GATEWAY, gw);
	mnl_attr_put_u32(h, RTA_OIF, (uint32_t)ifindex);
	return rtnl_talk(nl, h);
}

static int
ifindex_in(int sockfd, const char *name)
{
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(sockfd, SIOCGIFINDEX, &ifr) < 0)
		return -errno;
	return ifr.ifr_ifindex;
}

/* ---- nftables rules ---- */

struct rb {
	struct nftnl_rule *r;
};

static void
e_meta(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
}

static void
e_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	nftnl_rule_add_expr(r, e);
}

static void
e_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
}

static void
e_bitwise(struct nftnl_rule *r, const void *mask, uint32_t len)
{
	static const uint8_t zero[16];
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	nftnl_rule_add_expr(r, e);
}

static void
m_ifname(struct nftnl_rule *r, uint32_t key, uint32_t op, const char *name)
{
	char buf[IFNAMSIZ] = {0};
	snprintf(buf, sizeof(buf), "%s", name);
	e_meta(r, key);
	e_cmp(r, op, buf, (uint32_t)strlen(buf) + 1);
}

static void
m_ipv4(struct nftnl_rule *r, uint32_t op)
{
	uint8_t p = NFPROTO_IPV4;
	e_meta(r, NFT_META_NFPROTO);
	e_cmp(r, op, &p, 1);
}

static void
m_addr(struct nftnl_rule *r, uint32_t off, struct netpol_cidr c)
{
	e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, 4);
	if (c.prefix < 32) {
		uint32_t mask = c.prefix ? htonl(~0u << (32 - c.prefix)) : 0;
		e_bitwise(r, &mask, 4);
	}
	e_cmp(r, NFT_CMP_EQ, &c.addr, 4);
}

static void
m_port(struct nftnl_rule *r, uint8_t proto, uint16_t port)
{
	e_meta(r, NFT_META_L4PROTO);
	e_cmp(r, NFT_CMP_EQ, &proto, 1);
	uint16_t p = htons(port);
	e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
	e_cmp(r, NFT_CMP_EQ, &p, 2);
}

static void
m_established(struct nftnl_rule *r)
{
	uint32_t mask = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED);
	uint32_t zero = 0;
	struct nftnl_expr *e = nftnl_expr_alloc("ct");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	e_bitwise(r, &mask, 4);
	e_cmp(r, NFT_CMP_NEQ, &zero, 4);
}

static void
v_counter(struct nftnl_rule *r)
{
	nftnl_rule_add_expr(r, nftnl_expr_alloc("counter"));
}

static void
v_verdict(struct nftnl_rule *r, int verdict)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	nftnl_rule_add_expr(r, e);
}

struct batch {
	struct mnl_nlmsg_batch *b;
	char *buf;
	uint32_t seq, last;
	const char *table;
};

static struct nftnl_rule *
rule_new(struct batch *bt, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, bt->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	return r;
}

static void
batch_rule(struct batch *bt, struct nftnl_rule *r, const char *comment)
{
	if (comment) {
		struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 4);
		nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, comment);
		nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(u),
		                    nftnl_udata_buf_len(u));
		nftnl_udata_buf_free(u);
	}
	bt->last = bt->seq;
	struct nlmsghdr *h = nftnl_rule_nlmsg_build_hdr(
	    mnl_nlmsg_batch_current(bt->b), NFT_MSG_NEWRULE, NFPROTO_INET,
	    NLM_F_APPEND | NLM_F_CREATE | NLM_F_ACK, bt->seq++);
	nftnl_rule_nlmsg_build_payload(h, r);
	nftnl_rule_free(r);
	mnl_nlmsg_batch_next(bt->b);
}

/* A drop rule's tail: counter, drop, comment "deny:<kind>". */
static void
drop(struct batch *bt, struct nftnl_rule *r, const char *kind)
{
	char comment[40];
	snprintf(comment, sizeof(comment), "deny:%s", kind);
	v_counter(r);
	v_verdict(r, NF_DROP);
	batch_rule(bt, r, comment);
}

static void
accept_(struct batch *bt, struct nftnl_rule *r)
{
	v_verdict(r, NF_ACCEPT);
	batch_rule(bt, r, NULL);
}

static void
batch_table(struct batch *bt)
{
	struct nftnl_table *t = nftnl_table_alloc();
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, bt->table);
	bt->last = bt->seq;
	struct nlmsghdr *h =
	    nftnl_table_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), NFT_MSG_NEWTABLE,
	                                NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, bt->seq++);
	nftnl_table_nlmsg_build_payload(h, t);
	nftnl_table_free(t);
	mnl_nlmsg_batch_next(bt->b);
}

/* Creates (or keeps) a base chain and flushes its rules, in the same transaction. */
static void
batch_chain(struct batch *bt, const char *name, const char *type, uint32_t hook, int prio)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, bt->table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	bt->last = bt->seq;
	struct nlmsghdr *h =
	    nftnl_chain_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), NFT_MSG_NEWCHAIN,
	                                NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, bt->seq++);
	nftnl_chain_nlmsg_build_payload(h, c);
	nftnl_chain_free(c);
	mnl_nlmsg_batch_next(bt->b);

	struct nftnl_rule *r = rule_new(bt, name);
	bt->last = bt->seq;
	h = nftnl_rule_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), NFT_MSG_DELRULE,
	                               NFPROTO_INET, NLM_F_ACK, bt->seq++);
	nftnl_rule_nlmsg_build_payload(h, r);
	nftnl_rule_free(r);
	mnl_nlmsg_batch_next(bt->b);
}

static void
batch_del_chain(struct batch *bt, const char *name)
{
	struct nftnl_rule *r = rule_new(bt, name);
	bt->last = bt->seq;
	struct nlmsghdr *h = nftnl_rule_nlmsg_build_hdr(
	    mnl_nlmsg_batch_current(bt->b), NFT_MSG_DELRULE, NFPROTO_INET, NLM_F_ACK, bt->seq++);
	nftnl_rule_nlmsg_build_payload(h, r);
	nftnl_rule_free(r);
	mnl_nlmsg_batch_next(bt->b);

	struct nftnl_chain *c = nftnl_chain_alloc();
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, bt->table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	bt->last = bt->seq;
	h = nftnl_chain_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), NFT_MSG_DELCHAIN,
	                                NFPROTO_INET, NLM_F_ACK, bt->seq++);
	nftnl_chain_nlmsg_build_payload(h, c);
	nftnl_chain_free(c);
	mnl_nlmsg_batch_next(bt->b);
}

/* `elems`: how many set elements the batch may carry beyond its chains and rules. */
static void
batch_start(struct batch *bt, struct netpol *np, size_t elems)
{
	size_t size = MNL_SOCKET_BUFFER_SIZE * 16 + elems * 64;
	bt->buf = ab_xmalloc(size);
	bt->b = mnl_nlmsg_batch_start(bt->buf, size);
	bt->seq = ++np->seq * 1000u;
	bt->table = np->cfg.table;
	nftnl_batch_begin(mnl_nlmsg_batch_current(bt->b), bt->seq++);
	mnl_nlmsg_batch_next(bt->b);
}

/* Sends the batch and waits for the last message's ack. Frees the batch. */
static int
batch_commit(struct batch *bt, struct netpol *np)
{
	nftnl_batch_end(mnl_nlmsg_batch_current(bt->b), bt->seq++);
	mnl_nlmsg_batch_next(bt->b);
	np->seq = bt->seq / 1000u + 1;
	int r = 0;
	_cleanup_mnl_ struct mnl_socket *nl = nl_open(NETLINK_NETFILTER);
	if (!nl)
		r = -errno;
	else if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(bt->b), mnl_nlmsg_batch_size(bt->b)) <
	         0)
		r = -errno;
	else
		r = nl_wait(nl, bt->last, NULL, NULL);
	mnl_nlmsg_batch_stop(bt->b);
	free(bt->buf);
	return r;
}

static void
chain_names(const char *user, char fwd[64], char in[64], char nat[64], char count[64])
{
	snprintf(fwd, 64, "%s-fwd", user);
	snprintf(in, 64, "%s-in", user);
	snprintf(nat, 64, "%s-nat", user);
	snprintf(count, 64, "%s-count", user);
}

/*
 * The user's services live in a set of their own, "<user>-svc", keyed by
 * ipv4_addr . inet_proto . inet_service (each field in a 32-bit register of its own, as nft
 * lays out concatenations): the forward and input chains accept what the set holds, and a
 * reload changes the set's elements in place (netpol_set_services), never the chains.
 */
#define SVC_KEY_TYPE ((((7u << 6) | 12u) << 6) | 13u) /* nft's concat type id of the three */
#define SVC_CHUNK    256                              /* elements per netlink message */

struct svc_key {
	uint32_t addr; /* network order */
	uint8_t proto;
	uint8_t pad1[3];
	uint16_t port; /* network order */
	uint8_t pad2[2];
};

static void
set_name(const char *user, char out[64])
{
	snprintf(out, 64, "%s-svc", user);
}

static struct svc_key
svc_key(const struct netpol_service *s)
{
	return (struct svc_key){.addr = s->addr, .proto = s->proto, .port = htons(s->port)};
}

static struct nftnl_set *
set_new(struct batch *bt, const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, bt->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	return s;
}

/* One set message (NEWSET/DELSET, or with `elems` NEWSETELEM/DELSETELEM); frees `s`. */
static void
batch_set(struct batch *bt, struct nftnl_set *s, uint16_t type, uint16_t flags, bool elems)
{
	bt->last = bt->seq;
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), type,
	                                           NFPROTO_INET, flags | NLM_F_ACK, bt->seq++);
	if (elems)
		nftnl_set_elems_nlmsg_build_payload(h, s);
	else
		nftnl_set_nlmsg_build_payload(h, s);
	nftnl_set_free(s);
	mnl_nlmsg_batch_next(bt->b);
}

/* Adds (NEWSETELEM) or deletes (DELSETELEM) `n` keys of the set, SVC_CHUNK per message. */
static void
batch_set_elems(struct batch *bt, const char *name, uint16_t type, const struct svc_key *keys,
                size_t n)
{
	for (size_t i = 0; i < n; i += SVC_CHUNK) {
		struct nftnl_set *s = set_new(bt, name);
		for (size_t k = i; k < n && k < i + SVC_CHUNK; k++) {
			struct nftnl_set_elem *e = nftnl_set_elem_alloc();
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, &keys[k], sizeof(keys[k]));
			nftnl_set_elem_add(s, e);
		}
		batch_set(bt, s, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0, true);
	}
}

/* Creates the user's service set if it is not there, and makes it hold exactly `u`'s. */
static void
batch_service_set(struct batch *bt, const struct netpol_user *u)
{
	char name[64];
	set_name(u->user, name);
	struct nftnl_set *s = set_new(bt, name);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, SVC_KEY_TYPE);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, sizeof(struct svc_key));
	nftnl_set_set_u32(s, NFTNL_SET_ID, bt->seq);
	batch_set(bt, s, NFT_MSG_NEWSET, NLM_F_CREATE, false);
	batch_set(bt, set_new(bt, name), NFT_MSG_DELSETELEM, 0, true); /* no elements: flush */
	struct svc_key *keys = ab_xcalloc(u->n_services + 1, sizeof(*keys));
	for (size_t i = 0; i < u->n_services; i++)
		keys[i] = svc_key(&u->services[i]);
	batch_set_elems(bt, name, NFT_MSG_NEWSETELEM, keys, u->n_services);
	free(keys);
}

/* ip daddr . meta l4proto . th dport @<user>-svc */
static void
m_service_set(struct nftnl_rule *r, const char *user)
{
	char name[64];
	set_name(user, name);
	struct nftnl_expr *e = nftnl_expr_alloc("payload");
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 16);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 4);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG32_00);
	nftnl_rule_add_expr(r, e);
	e = nftnl_expr_alloc("meta");
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_L4PROTO);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG32_01);
	nftnl_rule_add_expr(r, e);
	e = nftnl_expr_alloc("payload");
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 2);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 2);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG32_02);
	nftnl_rule_add_expr(r, e);
	e = nftnl_expr_alloc("lookup");
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG32_00);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, name);
	nftnl_rule_add_expr(r, e);
}

/* A drop the poller does not count: its packets were counted in the count chain. */
static void
drop_quiet(struct batch *bt, struct nftnl_rule *r)
{
	v_verdict(r, NF_DROP);
	batch_rule(bt, r, NULL);
}

/* Counts the packets under `kind` for the chain's user and lets them go on to the next chain. */
static void
count_only(struct batch *bt, struct nftnl_rule *r, const char *kind)
{
	char comment[40];
	snprintf(comment, sizeof(comment), "deny:%s", kind);
	v_counter(r);
	v_verdict(r, NF_ACCEPT); /* accept ends only this base chain; a drop later is final */
	batch_rule(bt, r, comment);
}

/*
 * How the forward and input chains begin judging a packet: one not from the user's namespace
 * (host interface H) is not theirs to judge (accepted, on to the next chain), an established
 * one is accepted and anything but IPv4 dropped.
 */
static void
rules_from_user(struct batch *bt, const char *chain, const char *H)
{
	struct nftnl_rule *x = rule_new(bt, chain);
	m_ifname(x, NFT_META_IIFNAME, NFT_CMP_NEQ, H);
	accept_(bt, x);
	x = rule_new(bt, chain);
	m_established(x);
	accept_(bt, x);
	x = rule_new(bt, chain);
	m_ipv4(x, NFT_CMP_NEQ);
	drop(bt, x, "non-ipv4");
}

/*
 * What the forward and input chains share after their address checks: DNS only to the
 * configured resolver (every other DNS dropped and counted) unless admin, then the user's
 * services set accepted.
 */
static void
rules_dns_services(struct batch *bt, const char *chain, const struct netpol *np,
                   const struct netpol_user *u, bool admin)
{
	static const uint8_t dns_protos[] = {IPPROTO_UDP, IPPROTO_TCP};
	struct netpol_cidr resolver = {np->resolver, 32};
	struct nftnl_rule *x;
	for (size_t i = 0; !admin && np->resolver && i < 2; i++) {
		x = rule_new(bt, chain);
		m_addr(x, 16, resolver);
		m_port(x, dns_protos[i], 53);
		accept_(bt, x);
	}
	for (size_t i = 0; !admin && i < 2; i++) {
		x = rule_new(bt, chain);
		m_port(x, dns_protos[i], 53);
		drop(bt, x, "dns");
	}
	x = rule_new(bt, chain);
	m_service_set(x, u->user);
	accept_(bt, x);
}

static int
program_rules(struct netpol *np, const struct netpol_user *u, struct ab_err *err)
{
	char H[IFNAMSIZ], fwd[64], in[64], nat[64], count[64];
	host_ifname(np, u->index, H);
	chain_names(u->user, fwd, in, nat, count);
	uint32_t net = 0;
	int r = slot_net(np, u->index, &net, err);
	if (r < 0)
		return r;
	bool admin = u->role == RUNTIME_ROLE_ADMIN;
	struct netpol_cidr subnet = {net, 30};
	struct batch bt = {0};
	batch_start(&bt, np, u->n_services);
	batch_table(&bt);
	batch_service_set(&bt, u);

	/*
	 * count (forward, before every user's forward chain): traffic between two users' namespaces
	 * is dropped by whichever forward chain sees it first, and a drop ends the packet, so the
	 * two sides' drop counters would each see only part of it. This chain only counts, for
	 * both sides: attempts this user makes on another user ("inter-user", logged under the
	 * one who tried) and attempts on this user from anywhere ("inbound", under the target).
	 */
	batch_chain(&bt, count, "filter", NF_INET_FORWARD, -1);
	struct nftnl_rule *x = rule_new(&bt, count);
	m_established(x);
	accept_(&bt, x);
	x = rule_new(&bt, count);
	m_ifname(x, NFT_META_OIFNAME, NFT_CMP_EQ, H);
	count_only(&bt, x, "inbound");
	x = rule_new(&bt, count);
	m_ifname(x, NFT_META_IIFNAME, NFT_CMP_EQ, H);
	m_ipv4(x, NFT_CMP_EQ);
	m_addr(x, 16, np->pool);
	count_only(&bt, x, "inter-user");

	/* forward: traffic from and to the user's namespace */
	batch_chain(&bt, fwd, "filter", NF_INET_FORWARD, 0);
	x = rule_new(&bt, fwd);
	m_ifname(x, NFT_META_OIFNAME, NFT_CMP_EQ, H);
	m_established(x);
	accept_(&bt, x);
	x = rule_new(&bt, fwd);
	m_ifname(x, NFT_META_OIFNAME, NFT_CMP_EQ, H);
	drop_quiet(&bt, x); /* counted as "inbound" in the count chain */
	rules_from_user(&bt, fwd, H);
	x = rule_new(&bt, fwd);
	m_addr(x, 16, np->pool);
	drop_quiet(&bt, x); /* counted as "inter-user" in the count chain */
	rules_dns_services(&bt, fwd, np, u, admin);
	if (admin) {
		accept_(&bt, rule_new(&bt, fwd));
	} else if (u->role == RUNTIME_ROLE_MEMBER) {
		for (size_t i = 0; i < u->n_lan; i++) {
			x = rule_new(&bt, fwd);
			m_addr(x, 16, u->lan[i]);
			accept_(&bt, x);
		}
	}
	drop(&bt, rule_new(&bt, fwd), "egress");

	/* input: from the user's namespace to the host itself */
	batch_chain(&bt, in, "filter", NF_INET_LOCAL_IN, 0);
	rules_from_user(&bt, in, H);
	rules_dns_services(&bt, in, np, u, admin);
	if (admin)
		accept_(&bt, rule_new(&bt, in));
	drop(&bt, rule_new(&bt, in), "host-port");

	/* nat: the user's subnet leaves the host masqueraded */
	if (np->cfg.masquerade) {
		batch_chain(&bt, nat, "nat", NF_INET_POST_ROUTING, 100);
		x = rule_new(&bt, nat);
		m_ipv4(x, NFT_CMP_EQ);
		m_addr(x, 12, subnet);
		m_ifname(x, NFT_META_OIFNAME, NFT_CMP_NEQ, H);
		nftnl_rule_add_expr(x, nftnl_expr_alloc("masq"));
		batch_rule(&bt, x, NULL);
	}
	r = batch_commit(&bt, np);
	if (r < 0)
		return ab_err_errno(err, -r, "programming nftables rules for '%s'", u->user);
	return 0;
}

static int
remove_rules(struct netpol *np, const char *user)
{
	char fwd[64], in[64], nat[64], count[64];
	chain_names(user, fwd, in, nat, count);
	const char *chains[] = {fwd, in, count, nat};
	/* One transaction for all (one commit, one RCU grace period); one by one if some are gone.
	 */
	char set[64];
	set_name(user, set);
	struct batch all = {0};
	batch_start(&all, np, 0);
	for (size_t i = 0; i < AB_ARRAY_SIZE(chains); i++)
		if (i < 3 || np->cfg.masquerade)
			batch_del_chain(&all, chains[i]);
	batch_set(&all, set_new(&all, set), NFT_MSG_DELSET, 0, false); /* after its rules */
	if (batch_commit(&all, np) == 0)
		return 0;
	int first = 0;
	for (size_t i = 0; i <= AB_ARRAY_SIZE(chains); i++) {
		struct batch bt = {0};
		batch_start(&bt, np, 0);
		if (i < AB_ARRAY_SIZE(chains))
			batch_del_chain(&bt, chains[i]);
		else
			batch_set(&bt, set_new(&bt, set), NFT_MSG_DELSET, 0, false);
		int r = batch_commit(&bt, np);
		if (r < 0 && r != -ENOENT && !first)
			first = r;
	}
	return first;
}

/* ---- namespace + veth ---- */

static int
remove_link_and_ns(struct netpol *np, const char *user, unsigned index)
{
	char H[IFNAMSIZ];
	host_ifname(np, index, H);
	int first = 0;
	int ifindex = (int)if_nametoindex(H);
	if (ifindex > 0) {
		_cleanup_mnl_ struct mnl_socket *nl = nl_open(NETLINK_ROUTE);
		int r = nl ? link_del(nl, ++np->seq, ifindex) : -errno;
		if (r < 0 && r != -ENODEV)
			first = r;
	}
	_cleanup_free_ char *path = netns_path(np, user);
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT && !first)
		first = -errno;
	if (unlink(path) < 0 && errno != ENOENT && !first)
		first = -errno;
	return first;
}

static int
create_ns(struct netpol *np, const struct netpol_user *u, const char *path, struct ab_err *err)
{
	char H[IFNAMSIZ];
	host_ifname(np, u->index, H);
	uint32_t net = 0;
	int r = slot_net(np, u->index, &net, err);
	if (r < 0)
		return r;
	uint32_t host_addr = htonl(ntohl(net) + 1), ctr_addr = htonl(ntohl(net) + 2);

	_cleanup_close_ int f = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (f < 0)
		return ab_err_errno(err, errno, "creating '%s'", path);
	_cleanup_close_ int host_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (host_ns < 0)
		return ab_err_errno(err, errno, "opening the host network namespace");
	if (unshare(CLONE_NEWNET) < 0)
		return ab_err_errno(err, errno, "unshare(CLONE_NEWNET)");
	/* Now inside the new namespace: pin it, open its sockets, go back. */
	int mr = mount("/proc/thread-self/ns/net", path, NULL, MS_BIND, NULL) < 0 ? -errno : 0;
	_cleanup_close_ int ns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	_cleanup_mnl_ struct mnl_socket *nl_ns = nl_open(NETLINK_ROUTE);
	_cleanup_close_ int ioc_ns = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (setns(host_ns, CLONE_NEWNET) < 0)
		ab_assert_fail("setns back to the host network namespace", __FILE__, __LINE__,
		               __func__);
	if (mr < 0)
		return ab_err_errno(err, -mr, "bind-mounting the namespace at '%s'", path);
	if (ns_fd < 0 || !nl_ns || ioc_ns < 0)
		return ab_err_errno(err, errno, "opening sockets in the new namespace");

	_cleanup_mnl_ struct mnl_socket *nl = nl_open(NETLINK_ROUTE);
	if (!nl)
		return ab_err_errno(err, errno, "rtnetlink socket");
	if ((r = link_add_veth(nl, ++np->seq, H, "eth0", ns_fd)) < 0)
		return ab_err_errno(err, -r, "creating veth '%s'", H);
	int hidx = (int)if_nametoindex(H);
	if (hidx <= 0)
		return ab_err_errno(err, errno, "veth '%s' vanished", H);
	if ((r = addr_add(nl, ++np->seq, hidx, host_addr, 30)) < 0 ||
	    (r = link_up(nl, ++np->seq, hidx)) < 0)
		return ab_err_errno(err, -r, "configuring '%s'", H);
	int cidx = ifindex_in(ioc_ns, "eth0");
	int lidx = ifindex_in(ioc_ns, "lo");
	if (cidx < 0 || lidx < 0)
		return ab_err_errno(err, -AB_MIN(cidx, lidx), "namespace interfaces");
	if ((r = link_up(nl_ns, ++np->seq, lidx)) < 0 ||
	    (r = addr_add(nl_ns, ++np->seq, cidx, ctr_addr, 30)) < 0 ||
	    (r = link_up(nl_ns, ++np->seq, cidx)) < 0 ||
	    (r = route_default(nl_ns, ++np->seq, host_addr, cidx)) < 0)
		return ab_err_errno(err, -r, "configuring the namespace of '%s'", u->user);
	return 0;
}

static json_t *
policy_detail(struct netpol *np, const struct netpol_user *u)
{
	char h[16], c[16];
	netpol_addresses(np, u->index, h, c, NULL);
	json_t *lan = json_array();
	for (size_t i = 0; i < u->n_lan; i++) {
		char a[16];
		inet_ntop(AF_INET, &u->lan[i].addr, a, sizeof(a));
		json_array_append_new(lan, json_sprintf("%s/%u", a, u->lan[i].prefix));
	}
	json_t *svc = json_array();
	for (size_t i = 0; i < u->n_services; i++) {
		char spec[48];
		netpol_service_format(&u->services[i], spec, sizeof(spec));
		json_array_append_new(svc, json_string(spec));
	}
	return json_pack("{s:s, s:s, s:o, s:o, s:b, s:s}", "address", c, "gateway", h, "lan", lan,
	                 "services", svc, "dns_restricted", u->role != RUNTIME_ROLE_ADMIN,
	                 "resolver", np->cfg.resolver);
}

static int
check_user(const struct netpol_user *u, struct ab_err *err)
{
	struct runtime_spec probe = {.user = u->user};
	(void)probe;
	size_t n = u->user ? strlen(u->user) : 0;
	if (n == 0 || n > BUNDLE_USER_MAX || strchr(u->user, '/') || u->user[0] == '.')
		return ab_err_set(err, EINVAL, "netpol: bad user name");
	if (u->role >= RUNTIME_ROLE_MAX)
		return ab_err_set(err, EINVAL, "netpol: bad role for '%s'", u->user);
	return 0;
}

int
netpol_add(struct netpol *np, const struct netpol_user *u, char **ret_netns_path,
           struct ab_err *err)
{
	int r = check_user(u, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = netns_path(np, u->user);
	/* Leftovers of an earlier run are replaced; the rules are flushed by program_rules(). */
	char H[IFNAMSIZ];
	host_ifname(np, u->index, H);
	if (access(path, F_OK) == 0 || if_nametoindex(H) > 0)
		remove_link_and_ns(np, u->user, u->index);
	r = create_ns(np, u, path, err);
	if (r >= 0)
		r = program_rules(np, u, err);
	if (r < 0) {
		remove_rules(np, u->user);
		remove_link_and_ns(np, u->user, u->index);
		json_t *d = json_pack("{s:s}", "reason", err ? err->msg : "");
		audit_log("net.policy", AUDIT_FAILURE, u->user, runtime_role_name(u->role), NULL,
		          d);
		return ab_err_wrap(err, "network for '%s'", u->user);
	}
	audit_log("net.policy", AUDIT_GRANT, u->user, runtime_role_name(u->role), NULL,
	          policy_detail(np, u));
	*ret_netns_path = TAKE_PTR(path);
	return 0;
}

/*
 * A desktop started by a broker from before N8 has its veth under the old
 * name; the rules match the new one, so the link is renamed (down, rename,
 * up: a moment without network) before they are programmed.
 */
static int
rename_legacy_link(struct netpol *np, unsigned index, struct ab_err *err)
{
	char H[IFNAMSIZ], old[IFNAMSIZ];
	host_ifname(np, index, H);
	legacy_ifname(index, old);
	int ifindex = (int)if_nametoindex(old);
	if (!strcmp(H, old) || if_nametoindex(H) > 0 || ifindex <= 0)
		return 0;
	_cleanup_mnl_ struct mnl_socket *nl = nl_open(NETLINK_ROUTE);
	if (!nl)
		return ab_err_errno(err, errno, "netlink");
	char buf[256] = {0};
	struct nlmsghdr *h = rt_msg(buf, RTM_NEWLINK, 0, ++np->seq);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_change = IFF_UP; /* ifi_flags 0: down */
	int r = rtnl_talk(nl, h);
	if (r >= 0) {
		memset(buf, 0, sizeof(buf));
		h = rt_msg(buf, RTM_NEWLINK, 0, ++np->seq);
		ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
		ifi->ifi_family = AF_UNSPEC;
		ifi->ifi_index = ifindex;
		mnl_attr_put_strz(h, IFLA_IFNAME, H);
		r = rtnl_talk(nl, h);
	}
	int up = link_up(nl, ++np->seq, ifindex);
	if (r < 0 || up < 0)
		return ab_err_errno(err, -(r < 0 ? r : up), "renaming veth '%s' to '%s'", old, H);
	ab_info("network: veth '%s' renamed '%s' (named from netns_prefix now)", old, H);
	return 0;
}

int
netpol_adopt(struct netpol *np, const struct netpol_user *u, char **ret_netns_path,
             struct ab_err *err)
{
	int r = check_user(u, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = netns_path(np, u->user);
	if (access(path, F_OK) < 0)
		return ab_err_errno(err, errno, "namespace '%s'", path);
	if ((r = rename_legacy_link(np, u->index, err)) < 0)
		return r;
	r = program_rules(np, u, err);
	if (r < 0)
		return r;
	json_t *d = policy_detail(np, u);
	json_object_set_new(d, "adopted", json_true());
	audit_log("net.policy", AUDIT_GRANT, u->user, runtime_role_name(u->role), NULL, d);
	*ret_netns_path = TAKE_PTR(path);
	return 0;
}

int
netpol_remove(struct netpol *np, const char *user, unsigned index, struct ab_err *err)
{
	int r1 = remove_rules(np, user);
	int r2 = remove_link_and_ns(np, user, index);
	int r = r1 < 0 ? r1 : r2;
	json_t *d = json_pack("{s:b}", "removed", r == 0);
	audit_log("net.policy.remove", r == 0 ? AUDIT_INFO : AUDIT_FAILURE, user, NULL, NULL, d);
	if (r < 0)
		return ab_err_errno(err, -r, "removing the network of '%s'", user);
	return 0;
}

/* ---- service sets, in place ---- */

struct elems_ctx {
	struct netpol_service *have;
	size_t n, cap;
};

static int
elem_cb(struct nftnl_set_elem *e, void *data)
{
	struct elems_ctx *ctx = data;
	uint32_t len = 0;
	const struct svc_key *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
	if (!k || len != sizeof(*k))
		return 0;
	if (ctx->n == ctx->cap) {
		ctx->cap = ctx->cap ? ctx->cap * 2 : 32;
		ctx->have = ab_xrealloc(ctx->have, ctx->cap * sizeof(*ctx->have));
	}
	ctx->have[ctx->n++] =
	    (struct netpol_service){.addr = k->addr, .proto = k->proto, .port = ntohs(k->port)};
	return 0;
}

static int
elems_cb(const struct nlmsghdr *h, void *data)
{
	struct nftnl_set *s = nftnl_set_alloc();
	if (nftnl_set_elems_nlmsg_parse(h, s) >= 0)
		nftnl_set_elem_foreach(s, elem_cb, data);
	nftnl_set_free(s);
	return MNL_CB_OK;
}

/* The elements of the user's service set, as the kernel has them. -ENOENT: no set. */
static int
read_service_set(struct netpol *np, const char *user, struct elems_ctx *ctx)
{
	_cleanup_mnl_ struct mnl_socket *nl = nl_open(NETLINK_NETFILTER);
	if (!nl)
		return -errno;
	char buf[MNL_SOCKET_BUFFER_SIZE], name[64];
	set_name(user, name);
	uint32_t seq = ++np->seq;
	struct nlmsghdr *h =
	    nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP, seq);
	struct nftnl_set *s = nftnl_set_alloc();
	nftnl_set_set_str(s, NFTNL_SET_TABLE, np->cfg.table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_elems_nlmsg_build_payload(h, s);
	nftnl_set_free(s);
	if (mnl_socket_sendto(nl, h, h->nlmsg_len) < 0)
		return -errno;
	return nl_wait(nl, seq, elems_cb, ctx);
}

static bool
svc_in(const struct netpol_service *l, size_t n, const struct netpol_service *s)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].addr == s->addr && l[i].port == s->port && l[i].proto == s->proto)
			return true;
	return false;
}

int
netpol_get_services(struct netpol *np, const char *user, struct netpol_service **ret, size_t *ret_n,
                    struct ab_err *err)
{
	struct elems_ctx cur = {0};
	int r = read_service_set(np, user, &cur);
	if (r < 0) {
		free(cur.have);
		return ab_err_errno(err, -r, "reading the service set of '%s'", user);
	}
	*ret = cur.have;
	*ret_n = cur.n;
	return 0;
}

int
netpol_set_services(struct netpol *np, const char *user, const struct netpol_service *svc, size_t n,
                    struct netpol_set_change *ret, struct ab_err *err)
{
	struct netpol_set_change ch = {0};
	_cleanup_free_ struct netpol_service *have = NULL;
	size_t n_have = 0;
	int r = netpol_get_services(np, user, &have, &n_have, err);
	if (r < 0)
		return r;
	ch.added = ab_xcalloc(n + 1, sizeof(*ch.added));
	ch.removed = ab_xcalloc(n_have + 1, sizeof(*ch.removed));
	for (size_t i = 0; i < n; i++)
		if (!svc_in(have, n_have, &svc[i]) && !svc_in(ch.added, ch.n_added, &svc[i]))
			ch.added[ch.n_added++] = svc[i];
	for (size_t i = 0; i < n_have; i++)
		if (!svc_in(svc, n, &have[i]))
			ch.removed[ch.n_removed++] = have[i];
	if (ch.n_added || ch.n_removed) {
		char name[64];
		set_name(user, name);
		_cleanup_free_ struct svc_key *keys =
		    ab_xcalloc(ch.n_added + ch.n_removed + 1, sizeof(*keys));
		for (size_t i = 0; i < ch.n_removed; i++)
			keys[i] = svc_key(&ch.removed[i]);
		for (size_t i = 0; i < ch.n_added; i++)
			keys[ch.n_removed + i] = svc_key(&ch.added[i]);
		/* one transaction: the set is never seen half changed */
		struct batch bt = {0};
		batch_start(&bt, np, ch.n_added + ch.n_removed);
		batch_set_elems(&bt, name, NFT_MSG_DELSETELEM, keys, ch.n_removed);
		batch_set_elems(&bt, name, NFT_MSG_NEWSETELEM, keys + ch.n_removed, ch.n_added);
		r = batch_commit(&bt, np);
		if (r < 0) {
			netpol_set_change_free(&ch);
			return ab_err_errno(err, -r, "updating the service set of '%s'", user);
		}
	}
	if (ret)
		*ret = ch;
	else
		netpol_set_change_free(&ch);
	return 0;
}

void
netpol_set_change_free(struct netpol_set_change *ch)
{
	if (!ch)
		return;
	free(ch->added);
	free(ch->removed);
	*ch = (struct netpol_set_change){0};
}

void
netpol_service_format(const struct netpol_service *s, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &s->addr, a, sizeof(a));
	snprintf(buf, len, "%s:%s:%u", s->proto == IPPROTO_TCP ? "tcp" : "udp", a, s->port);
}

/* Sends one nf_tables request (its seq set) and runs cb on each answer of a dump. */
static int
nft_request(struct nlmsghdr *h, mnl_cb_t cb, void *data)
{
	_cleanup_mnl_ struct mnl_socket *nl = nl_open(NETLINK_NETFILTER);
	if (!nl)
		return -errno;
	if (mnl_socket_sendto(nl, h, h->nlmsg_len) < 0)
		return -errno;
	return nl_wait(nl, h->nlmsg_seq, cb, data);
}

/* Dumps the chains or rules (NFT_MSG_GETCHAIN, NFT_MSG_GETRULE) of our table, cb on each; a
 * table that does not exist is an empty dump. */
static int
dump_table(struct netpol *np, uint16_t type, mnl_cb_t cb, void *data)
{
	_Static_assert((int)NFTA_CHAIN_TABLE == (int)NFTA_RULE_TABLE,
	               "one attribute names the table");
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, NLM_F_DUMP, ++np->seq);
	mnl_attr_put_strz(h, NFTA_RULE_TABLE, np->cfg.table);
	int r = nft_request(h, cb, data);
	return r == -ENOENT ? 0 : r;
}

/* ---- host forwarding ---- */

/*
 * IPv4 forwarding is one switch per network namespace, and the desktops' egress needs it on
 * in the broker's. When it was off, ArgoBox turns it on and scopes the change with a chain of
 * its own in its table, "forward-guard" (forward hook, after every user's chain): IPv4
 * packets to or from the desktops' pool pass, every other forwarded IPv4 packet is dropped as
 * it was before, so the host does not become a router for anything else. On a clean shutdown
 * with no desktop left (no user chain in the table), the table goes and the switch is set
 * back to 0. The guard chain also marks the change as ArgoBox's across restarts (a broker
 * that finds forwarding on and the guard in place turned it on itself). When forwarding was
 * already on (another service's, or the administrator's), ArgoBox neither guards nor
 * restores it. Both changes are audited (net.host).
 */
#define GUARD_CHAIN "forward-guard"
#define IP_FORWARD  "/proc/sys/net/ipv4/ip_forward"

static int
ip_forward_get(void)
{
	char c = 0;
	int fd = open(IP_FORWARD, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, &c, 1);
	close(fd);
	return n == 1 ? c == '1' : -EIO;
}

static int
ip_forward_set(bool on)
{
	int fd = open(IP_FORWARD, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = write(fd, on ? "1" : "0", 1) == 1 ? 0 : -errno;
	close(fd);
	return r;
}

static int
chain_cb(const struct nlmsghdr *h, void *data)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	if (nftnl_chain_nlmsg_parse(h, c) == 0) {
		const char *name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
		size_t n = name ? strlen(name) : 0;
		int *counts = data; /* [0]: user chains, [1]: the guard */
		if (n > 4 && strcmp(name + n - 4, "-fwd") == 0)
			counts[0]++;
		if (name && strcmp(name, GUARD_CHAIN) == 0)
			counts[1]++;
	}
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

/* counts[0]: the users' forward chains in our table, counts[1]: 1 when the guard is there. */
static int
table_chains(struct netpol *np, int counts[2])
{
	counts[0] = counts[1] = 0;
	return dump_table(np, NFT_MSG_GETCHAIN, chain_cb, counts);
}

static int
guard_install(struct netpol *np)
{
	struct batch bt = {0};
	batch_start(&bt, np, 0);
	batch_table(&bt);
	batch_chain(&bt, GUARD_CHAIN, "filter", NF_INET_FORWARD, 10);
	struct nftnl_rule *x = rule_new(&bt, GUARD_CHAIN);
	m_ipv4(x, NFT_CMP_NEQ); /* the switch is IPv4's only */
	accept_(&bt, x);
	x = rule_new(&bt, GUARD_CHAIN);
	m_ipv4(x, NFT_CMP_EQ);
	m_addr(x, 12, np->pool); /* from a desktop */
	accept_(&bt, x);
	x = rule_new(&bt, GUARD_CHAIN);
	m_ipv4(x, NFT_CMP_EQ);
	m_addr(x, 16, np->pool); /* to a desktop (replies are de-NATed before forward) */
	accept_(&bt, x);
	x = rule_new(&bt, GUARD_CHAIN);
	v_counter(x);
	v_verdict(x, NF_DROP);
	batch_rule(&bt, x, "not argobox");
	return batch_commit(&bt, np);
}

static void
forwarding_on(struct netpol *np)
{
	int was = ip_forward_get();
	int counts[2] = {0, 0};
	if (was == 1) {
		/* on: ours from an earlier run when our guard is still in place */
		np->forward_ours = table_chains(np, counts) == 0 && counts[1] > 0;
		if (np->forward_ours)
			ab_info("netpol: IPv4 forwarding stays on (turned on by ArgoBox earlier; "
			        "'%s' still limits it to the desktops)",
			        GUARD_CHAIN);
		return;
	}
	int r = was < 0 ? was : guard_install(np);
	if (r == 0)
		r = ip_forward_set(true);
	if (r < 0) {
		ab_warn("netpol: cannot turn IPv4 forwarding on: %s (desktops will have no "
		        "egress)",
		        strerror(-r));
		audit_log("net.host", AUDIT_FAILURE, NULL, NULL, NULL,
		          json_pack("{s:s, s:s}", "change", "ip_forward", "error", strerror(-r)));
		return;
	}
	np->forward_ours = true;
	ab_info("netpol: net.ipv4.ip_forward was 0, now 1 for the desktops' egress; inet %s "
	        "chain '%s' drops every other forwarded IPv4 packet; set back to 0 on a clean "
	        "shutdown with no desktop left",
	        np->cfg.table, GUARD_CHAIN);
	audit_log("net.host", AUDIT_INFO, NULL, NULL, NULL,
	          json_pack("{s:s, s:i, s:i, s:s, s:s}", "change", "ip_forward", "from", 0, "to", 1,
	                    "guard", GUARD_CHAIN, "table", np->cfg.table));
}

static void
forwarding_restore(struct netpol *np)
{
	int counts[2];
	if (table_chains(np, counts) < 0 || counts[0] > 0)
		return; /* desktops left running (to be adopted): keep their egress */
	bool had_table = counts[1] > 0;
	if (!had_table) {
		/* is there an (empty) table of ours at all? a guard-less one from before */
		char buf[MNL_SOCKET_BUFFER_SIZE];
		struct nlmsghdr *h = nftnl_table_nlmsg_build_hdr(
		    buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, ++np->seq);
		struct nftnl_table *t = nftnl_table_alloc();
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, np->cfg.table);
		nftnl_table_nlmsg_build_payload(h, t);
		nftnl_table_free(t);
		had_table = nft_request(h, NULL, NULL) == 0;
	}
	if (had_table) {
		struct batch bt = {0};
		batch_start(&bt, np, 0);
		struct nftnl_table *t = nftnl_table_alloc();
		nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, bt.table);
		bt.last = bt.seq;
		struct nlmsghdr *h =
		    nftnl_table_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt.b), NFT_MSG_DELTABLE,
		                                NFPROTO_INET, NLM_F_ACK, bt.seq++);
		nftnl_table_nlmsg_build_payload(h, t);
		nftnl_table_free(t);
		mnl_nlmsg_batch_next(bt.b);
		int r = batch_commit(&bt, np);
		if (r < 0 && r != -ENOENT)
			ab_warn("netpol: removing table inet %s: %s", np->cfg.table, strerror(-r));
		else
			ab_info("netpol: no desktop left: table inet %s removed", np->cfg.table);
	}
	if (!np->forward_ours)
		return;
	int r = ip_forward_set(false);
	if (r < 0) {
		ab_warn("netpol: cannot set net.ipv4.ip_forward back to 0: %s", strerror(-r));
		return;
	}
	np->forward_ours = false;
	ab_info("netpol: net.ipv4.ip_forward set back to 0 (no desktop left)");
	audit_log("net.host", AUDIT_INFO, NULL, NULL, NULL,
	          json_pack("{s:s, s:i, s:i}", "change", "ip_forward", "from", 1, "to", 0));
}

/* ---- counters ---- */

struct poll_ctx {
	struct netpol *np;
	struct drop_count *now;
	size_t n, cap;
};

static int
comment_cb(const struct nftnl_udata *attr, void *data)
{
	if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT) {
		const char *s = nftnl_udata_get(attr);
		uint8_t len = nftnl_udata_len(attr);
		if (len > 0 && s[len - 1] == '\0')
			*(const char **)data = s;
	}
	return MNL_CB_OK;
}

static int
counter_cb(struct nftnl_expr *e, void *data)
{
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	if (name && !strcmp(name, "counter"))
		*(int64_t *)data = (int64_t)nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
	return 0;
}

static int
rule_cb(const struct nlmsghdr *h, void *data)
{
	struct poll_ctx *ctx = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (nftnl_rule_nlmsg_parse(h, r) < 0) {
		nftnl_rule_free(r);
		return MNL_CB_OK;
	}
	const char *table = nftnl_rule_get_str(r, NFTNL_RULE_TABLE);
	const char *chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
	uint32_t ulen = 0;
	const void *ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &ulen);
	const char *comment = NULL;
	if (ud)
		nftnl_udata_parse(ud, ulen, comment_cb, &comment);
	if (table && chain && comment && !strcmp(table, ctx->np->cfg.table) &&
	    !strncmp(comment, "deny:", 5)) {
		const char *dash = strrchr(chain, '-');
		int64_t packets = 0;
		nftnl_expr_foreach(r, counter_cb, &packets);
		if (dash && (size_t)(dash - chain) <= BUNDLE_USER_MAX) {
			struct drop_count *dc = NULL;
			for (size_t i = 0; i < ctx->n; i++)
				if (!strncmp(ctx->now[i].user, chain, (size_t)(dash - chain)) &&
				    ctx->now[i].user[dash - chain] == '\0' &&
				    !strcmp(ctx->now[i].kind, comment + 5))
					dc = &ctx->now[i];
			if (!dc) {
				if (ctx->n == ctx->cap) {
					ctx->cap = ctx->cap ? ctx->cap * 2 : 16;
					ctx->now =
					    ab_xrealloc(ctx->now, ctx->cap * sizeof(*ctx->now));
				}
				dc = &ctx->now[ctx->n++];
				memset(dc, 0, sizeof(*dc));
				snprintf(dc->user, sizeof(dc->user), "%.*s", (int)(dash - chain),
				         chain);
				snprintf(dc->kind, sizeof(dc->kind), "%s", comment + 5);
			}
			dc->packets += packets;
		}
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

static int
read_counters(struct netpol *np, struct poll_ctx *ctx)
{
	return dump_table(np, NFT_MSG_GETRULE, rule_cb, ctx);
}

int
netpol_poll(struct netpol *np, struct ab_err *err)
{
	struct poll_ctx ctx = {.np = np};
	int r = read_counters(np, &ctx);
	if (r < 0) {
		free(ctx.now);
		return ab_err_errno(err, -r, "reading nftables counters");
	}
	int users = 0;
	const char *last_user = "";
	for (size_t i = 0; i < ctx.n; i++) {
		int64_t before = 0;
		for (size_t j = 0; j < np->n_seen; j++)
			if (!strcmp(np->seen[j].user, ctx.now[i].user) &&
			    !strcmp(np->seen[j].kind, ctx.now[i].kind))
				before = np->seen[j].packets;
		int64_t delta = ctx.now[i].packets - before;
		if (delta > 0) {
			json_t *d =
			    json_pack("{s:s, s:I, s:I}", "kind", ctx.now[i].kind, "packets",
			              (json_int_t)delta, "total", (json_int_t)ctx.now[i].packets);
			audit_log("net.deny", AUDIT_DENY, ctx.now[i].user, NULL, NULL, d);
			if (strcmp(last_user, ctx.now[i].user) != 0)
				users++;
			last_user = ctx.now[i].user;
		}
	}
	free(np->seen);
	np->seen = ctx.now;
	np->n_seen = ctx.n;
	return users;
}

int64_t
netpol_drops(struct netpol *np, const char *user, const char *kind)
{
	int64_t sum = 0;
	for (size_t i = 0; i < np->n_seen; i++)
		if (!strcmp(np->seen[i].user, user) &&
		    (!strcmp(kind, "any") || !strcmp(np->seen[i].kind, kind)))
			sum += np->seen[i].packets;
	return sum;
}
