/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * argobox-seccomp-shim: one container's seccomp user-notification listener,
 * in a process of its own so that auditing outlives the broker.
 *
 *   argobox-seccomp-shim --listen-fd N [--audit FILE] [--attach-timeout-ms MS]
 *
 * The broker binds and listens on <bundle>/seccomp.sock, starts the shim with
 * that socket as fd N and names the path in the container's config.json
 * (linux.seccomp.listenerPath). The runtime connects at `create` and hands
 * over the notify fd; the shim then stops listening and, through secnotify.c,
 * answers every denied call with EPERM and writes a "container.seccomp" audit
 * line to the same audit log as the broker (one write(2) per line, O_APPEND:
 * lines never interleave). It exits when no task of the container is left,
 * or when nothing attached within the timeout (the container failed to start).
 * It runs in its own session, so a broker that is killed or restarted leaves
 * it running; the next broker adopts the container and auditing goes on.
 */
#include "ab_err.h"
#include "ab_log.h"
#include "ab_loop.h"
#include "ab_util.h"
#include "audit.h"
#include "secnotify.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int
parse_int(const char *s, long long min, long long max, long long *ret)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: argobox-seccomp-shim --listen-fd N [--audit FILE] "
	           "[--attach-timeout-ms MS]\n"
	           "Serves one container's seccomp notifications (started by argobox-broker).\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"listen-fd", required_argument, NULL, 'l'},
	    {"audit", required_argument, NULL, 'a'},
	    {"attach-timeout-ms", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	long long listen_fd = -1, timeout_ms = 120000;
	const char *audit_path = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (parse_int(optarg, 3, 1 << 20, &listen_fd) < 0) {
				fprintf(stderr, "argobox-seccomp-shim: bad --listen-fd '%s'\n",
				        optarg);
				return 2;
			}
			break;
		case 'a':
			audit_path = optarg;
			break;
		case 't':
			if (parse_int(optarg, 100, 3600000, &timeout_ms) < 0) {
				fprintf(stderr,
				        "argobox-seccomp-shim: bad --attach-timeout-ms '%s'\n",
				        optarg);
				return 2;
			}
			break;
		default:
			return ab_usage(usage, c == 'h');
		}
	}
	if (listen_fd < 0 || optind != argc)
		return ab_usage(usage, false);
	if (fcntl((int)listen_fd, F_GETFD) < 0) {
		fprintf(stderr, "argobox-seccomp-shim: fd %lld is not open\n", listen_fd);
		return 2;
	}
	fcntl((int)listen_fd, F_SETFD, FD_CLOEXEC);
	/* Outlive the broker: own session, no terminal signals; stdin from /dev/null. */
	(void)setsid();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, on_signal);
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		close(devnull);
	}

	struct ab_err err = {0};
	if (audit_open(audit_path, &err) < 0) {
		fprintf(stderr, "argobox-seccomp-shim: %s\n", err.msg);
		return 1;
	}
	struct ab_loop *loop = ab_loop_poll_new();
	struct secnotify *sn = NULL;
	if (secnotify_new_fd(loop, (int)listen_fd, &sn, &err) < 0) {
		fprintf(stderr, "argobox-seccomp-shim: %s\n", err.msg);
		ab_loop_poll_free(loop);
		return 1;
	}
	int64_t deadline = ab_now_ms() + timeout_ms;
	int rc = 0;
	while (!stop_requested) {
		unsigned total = secnotify_attached_total(sn);
		if (total > 0) {
			secnotify_stop_listening(sn);
			if (secnotify_attached(sn) == 0)
				break; /* the container's last task is gone */
		} else if (ab_now_ms() >= deadline) {
			ab_warn("seccomp shim: no runtime attached within %lld ms", timeout_ms);
			rc = 1;
			break;
		}
		int r = ab_loop_poll_once(loop, total > 0 ? -1 : 250);
		if (r < 0 && r != -EINTR) {
			ab_error("seccomp shim: poll: %s", strerror(-r));
			rc = 1;
			break;
		}
	}
	secnotify_free(sn);
	ab_loop_poll_free(loop);
	audit_close();
	return rc;
}
