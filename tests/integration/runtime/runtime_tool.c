/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ab-runtime-tool: drives broker/isolation/runtime.c and broker/isolation/netpol.c from the
 * command line, on an ab_loop_poll loop, the way the broker does. Used by the
 * integration tests, the escape suite and bench/container_bench.sh.
 *
 *   ab-runtime-tool [global] start --user U --rundir D [opts] -- CMD...
 *   ab-runtime-tool [global] stop --user U       (adopts first, like a restarted broker)
 *   ab-runtime-tool [global] list                (adopt and print)
 *   ab-runtime-tool [global] poll                (audit new drops and limit hits)
 *   ab-runtime-tool [global] netbench --index N --count K
 *
 * Every invocation is a fresh "broker": start leaves the container running;
 * stop, list and poll find it again through runtime_adopt().
 */
#include "ab_log.h"
#include "ab_loop.h"
#include "ab_util.h"
#include "audit.h"
#include "netpol.h"
#include "runtime.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

struct opts {
	struct runtime_config rc;
	struct netpol_config nc;
	bool no_net;
	const char *audit;
	/* start */
	struct runtime_spec spec;
	const char *caps[16];
	size_t n_caps;
	struct netpol_cidr lan[8];
	size_t n_lan;
	struct netpol_service svc[8];
	size_t n_svc;
	struct runtime_mount mounts[8];
	size_t n_mounts;
	const char *ready_file;
	int count;
	bool stay;
};

static struct ab_loop *loop;
static int result = -1;
static bool done;
static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
	stop_flag = 1;
}

static void
on_done(struct runtime *rt, const char *user, int status, const char *msg, void *data)
{
	const char *what = data;
	if (status == 0) {
		if (!strcmp(what, "ready"))
			printf("ready user=%s pid=%d runtime=%s\n", user,
			       (int)runtime_pid(rt, user), runtime_name(rt));
		else
			printf("%s user=%s\n", what, user);
	} else {
		fprintf(stderr, "%s '%s' failed: %d %s\n", what, user, status, msg ? msg : "");
	}
	result = status;
	done = true;
}

static const char *stop_user;

static void
on_list(struct runtime *rt, const struct runtime_info *list, size_t n, int status, void *data)
{
	const char *cmd = data;
	if (status < 0) {
		fprintf(stderr, "list failed: %d\n", status);
		result = status;
		done = true;
		return;
	}
	if (!strcmp(cmd, "list"))
		for (size_t i = 0; i < n; i++)
			printf("%s %s %d %s %u\n", list[i].user, list[i].status, (int)list[i].pid,
			       list[i].role, list[i].index);
	if (!strcmp(cmd, "stop")) {
		struct ab_err err = {0};
		if (runtime_stop(rt, stop_user, on_done, "stopped", &err) < 0) {
			fprintf(stderr, "%s\n", err.msg);
			result = -err.code;
			done = true;
		}
		return;
	}
	if (!strcmp(cmd, "poll"))
		printf("limits %d\n", runtime_poll_limits(rt));
	result = 0;
	done = true;
}

static void
usage(void)
{
	fprintf(stderr, "usage: ab-runtime-tool [global options] start|stop|list|poll|netbench "
	                "[options] [-- command...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	ab_log_init("runtime-tool");
	static struct opts o;
	o.rc = runtime_default_config;
	o.nc = netpol_default_config;
	o.spec.uid = o.spec.gid = 1000;
	o.spec.host_id_base = 100000;
	o.spec.role = RUNTIME_ROLE_MEMBER;
	o.count = 10;
	enum {
		O_RUNTIME = 256,
		O_BUNDLES,
		O_STATE,
		O_PREFIX,
		O_AUDIT,
		O_POOL,
		O_NETNS_DIR,
		O_TABLE,
		O_RESOLVER,
		O_NO_NET,
		O_USER,
		O_ROLE,
		O_INDEX,
		O_UID,
		O_HOME,
		O_RUNDIR,
		O_MEMORY,
		O_CPU,
		O_PIDS,
		O_CAP,
		O_LAN,
		O_SERVICE,
		O_MOUNT,
		O_READY_FILE,
		O_SECCOMP,
		O_APPARMOR,
		O_RO_ROOT,
		O_COUNT,
		O_IDBASE,
		O_LISTENER,
		O_STAY,
		O_IMAGE,
	};
	static const struct option longopts[] = {
	    {"runtime", 1, NULL, O_RUNTIME},
	    {"bundle-root", 1, NULL, O_BUNDLES},
	    {"state-root", 1, NULL, O_STATE},
	    {"prefix", 1, NULL, O_PREFIX},
	    {"audit", 1, NULL, O_AUDIT},
	    {"pool", 1, NULL, O_POOL},
	    {"netns-dir", 1, NULL, O_NETNS_DIR},
	    {"table", 1, NULL, O_TABLE},
	    {"resolver", 1, NULL, O_RESOLVER},
	    {"no-net", 0, NULL, O_NO_NET},
	    {"user", 1, NULL, O_USER},
	    {"role", 1, NULL, O_ROLE},
	    {"index", 1, NULL, O_INDEX},
	    {"uid", 1, NULL, O_UID},
	    {"home", 1, NULL, O_HOME},
	    {"rundir", 1, NULL, O_RUNDIR},
	    {"memory", 1, NULL, O_MEMORY},
	    {"cpu", 1, NULL, O_CPU},
	    {"pids", 1, NULL, O_PIDS},
	    {"cap", 1, NULL, O_CAP},
	    {"lan", 1, NULL, O_LAN},
	    {"service", 1, NULL, O_SERVICE},
	    {"mount", 1, NULL, O_MOUNT},
	    {"ready-file", 1, NULL, O_READY_FILE},
	    {"seccomp", 1, NULL, O_SECCOMP},
	    {"apparmor", 1, NULL, O_APPARMOR},
	    {"ro-root", 0, NULL, O_RO_ROOT},
	    {"count", 1, NULL, O_COUNT},
	    {"id-base", 1, NULL, O_IDBASE},
	    {"seccomp-listener", 1, NULL, O_LISTENER},
	    {"stay", 0, NULL, O_STAY},
	    {"image", 1, NULL, O_IMAGE},
	    {0},
	};
	struct ab_err err = {0};
	const char *cmd = NULL;
	struct netpol *np = NULL;
	struct runtime *rt = NULL;
	int c;
	/* Global options, the command, then its options: one getopt pass ("+" stops at "--"). */
	while (optind < argc) {
		if ((c = getopt_long(argc, argv, "+", longopts, NULL)) == -1) {
			if (optind < argc && !cmd && strcmp(argv[optind], "--") != 0) {
				cmd = argv[optind++];
				continue;
			}
			break;
		}
		switch (c) {
#define STR(field) snprintf(field, sizeof(field), "%s", optarg)
		case O_RUNTIME:
			STR(o.rc.runtime);
			break;
		case O_BUNDLES:
			STR(o.rc.bundle_root);
			break;
		case O_STATE:
			STR(o.rc.state_root);
			break;
		case O_PREFIX:
			STR(o.rc.id_prefix);
			STR(o.nc.netns_prefix);
			break;
		case O_AUDIT:
			o.audit = optarg;
			break;
		case O_POOL:
			STR(o.nc.pool);
			break;
		case O_NETNS_DIR:
			STR(o.nc.netns_dir);
			break;
		case O_TABLE:
			STR(o.nc.table);
			break;
		case O_RESOLVER:
			STR(o.nc.resolver);
			break;
		case O_NO_NET:
			o.no_net = true;
			break;
		case O_USER:
			o.spec.user = optarg;
			break;
		case O_ROLE: {
			int r = runtime_role_from_string(optarg);
			if (r < 0)
				usage();
			o.spec.role = (enum runtime_role)r;
			o.spec.read_only_root |= r == RUNTIME_ROLE_DEMO;
			break;
		}
		case O_INDEX:
			o.spec.index = (unsigned)atoi(optarg);
			break;
		case O_UID:
			o.spec.uid = o.spec.gid = (uid_t)atoi(optarg);
			break;
		case O_IDBASE:
			o.spec.host_id_base = (uid_t)atol(optarg);
			break;
		case O_HOME:
			o.spec.home_dir = optarg;
			break;
		case O_RUNDIR:
			o.spec.runtime_dir = optarg;
			break;
		case O_MEMORY:
			o.spec.memory_bytes = atoll(optarg);
			break;
		case O_CPU:
			o.spec.cpu_millis = atoll(optarg);
			break;
		case O_PIDS:
			o.spec.pids_max = atoll(optarg);
			break;
		case O_CAP:
			if (o.n_caps < AB_ARRAY_SIZE(o.caps) - 1)
				o.caps[o.n_caps++] = optarg;
			break;
		case O_LAN:
			if (o.n_lan < AB_ARRAY_SIZE(o.lan) &&
			    netpol_parse_cidr(optarg, &o.lan[o.n_lan++], &err) < 0)
				goto fail;
			break;
		case O_SERVICE:
			if (o.n_svc < AB_ARRAY_SIZE(o.svc) &&
			    netpol_parse_service(optarg, &o.svc[o.n_svc++], &err) < 0)
				goto fail;
			break;
		case O_MOUNT: {
			char *colon = strchr(optarg, ':');
			if (!colon || o.n_mounts >= AB_ARRAY_SIZE(o.mounts))
				usage();
			*colon = '\0';
			o.mounts[o.n_mounts++] = (struct runtime_mount){optarg, colon + 1, false};
			break;
		}
		case O_READY_FILE:
			o.ready_file = optarg;
			break;
		case O_SECCOMP:
			o.spec.seccomp_path = optarg;
			break;
		case O_APPARMOR:
			o.spec.apparmor_profile = optarg;
			break;
		case O_RO_ROOT:
			o.spec.read_only_root = true;
			break;
		case O_LISTENER:
			STR(o.rc.seccomp_listener);
			break;
		case O_IMAGE:
			o.spec.image = optarg;
			break;
		case O_STAY:
			o.stay = true;
			break;
		case O_COUNT:
			o.count = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!cmd)
		usage();
	if (audit_open(o.audit, &err) < 0)
		goto fail;

	if (!o.no_net && netpol_new(&o.nc, &np, &err) < 0)
		goto fail;

	if (!strcmp(cmd, "netbench")) {
		/* Times netns + veth + rules, and their removal. */
		char name[40];
		snprintf(name, sizeof(name), "nb%u", o.spec.index);
		struct netpol_user u = {.user = name, .role = o.spec.role, .index = o.spec.index};
		for (int i = 0; i < o.count; i++) {
			_cleanup_free_ char *path = NULL;
			int64_t t0 = ab_now_us();
			if (netpol_add(np, &u, &path, &err) < 0)
				goto fail;
			int64_t t1 = ab_now_us();
			if (netpol_remove(np, name, u.index, &err) < 0)
				goto fail;
			int64_t t2 = ab_now_us();
			printf("add_us %lld remove_us %lld\n", (long long)(t1 - t0),
			       (long long)(t2 - t1));
		}
		netpol_free(np);
		return 0;
	}

	loop = ab_loop_poll_new();
	if (runtime_new(loop, &o.rc, np, &rt, &err) < 0)
		goto fail;

	if (!strcmp(cmd, "start")) {
		o.caps[o.n_caps] = NULL;
		o.spec.caps = o.caps;
		o.spec.argv = (const char *const *)argv + optind;
		o.spec.mounts = o.mounts;
		o.spec.n_mounts = o.n_mounts;
		struct netpol_user u = {
		    .user = o.spec.user,
		    .role = o.spec.role,
		    .index = o.spec.index,
		    .lan = o.lan,
		    .n_lan = o.n_lan,
		    .services = o.svc,
		    .n_services = o.n_svc,
		};
		if (runtime_start(rt, &o.spec, np ? &u : NULL, o.ready_file, on_done, "ready",
		                  &err) < 0)
			goto fail;
	} else if (!strcmp(cmd, "stop") || !strcmp(cmd, "list") || !strcmp(cmd, "poll")) {
		stop_user = o.spec.user;
		if (!strcmp(cmd, "stop") && !stop_user)
			usage();
		if (!strcmp(cmd, "poll") && np) {
			int n = netpol_poll(np, &err);
			if (n < 0)
				goto fail;
			printf("net %d\n", n);
		}
		if (runtime_adopt(rt, NULL, on_list, (void *)cmd, &err) < 0)
			goto fail;
	} else {
		usage();
	}
	while (!done)
		ab_loop_poll_once(loop, 1000);
	if (o.stay && result == 0) {
		/*
		 * Like the broker: keep serving seccomp notifications and auditing
		 * drops and limit hits until SIGTERM; the container keeps running.
		 */
		signal(SIGTERM, on_signal);
		signal(SIGINT, on_signal);
		fflush(stdout);
		while (!stop_flag) {
			ab_loop_poll_once(loop, 500);
			if (np)
				netpol_poll(np, NULL);
			runtime_poll_limits(rt);
		}
	}
	/* Let deferred frees run. */
	ab_loop_poll_once(loop, 0);
	runtime_free(rt);
	netpol_free(np);
	ab_loop_poll_free(loop);
	return result == 0 ? 0 : 1;
fail:
	fprintf(stderr, "ab-runtime-tool: %s\n", err.msg);
	runtime_free(rt);
	netpol_free(np);
	if (loop)
		ab_loop_poll_free(loop);
	return 1;
}
