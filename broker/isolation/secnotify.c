/* SPDX-License-Identifier: GPL-2.0-or-later */
/* secnotify: audits and refuses the container's denied syscalls (see secnotify.h). */
#include "secnotify.h"
#include "ab_log.h"
#include "ab_sock.h"
#include "ab_util.h"
#include "audit.h"

#include <errno.h>
#include <jansson.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

struct sn_conn { /* a runtime handing over a notify fd */
	struct secnotify *sn;
	int fd, notify_fd;
	struct ab_watch *watch;
	char *buf;
	size_t len;
	struct sn_conn *next;
};

struct sn_notifier { /* one container's notify fd */
	struct secnotify *sn;
	int fd;
	struct ab_watch *watch;
	char *user, *role, *id;
	int64_t second, in_second, suppressed;
	struct sn_notifier *next;
};

struct secnotify {
	struct ab_loop *loop;
	int listen_fd;
	struct ab_watch *listen_watch;
	struct sn_conn *conns;
	struct sn_notifier *notifiers;
	struct seccomp_notif_sizes sizes;
	int64_t denied;
	unsigned attached, attached_total;
};

unsigned
secnotify_attached(struct secnotify *sn)
{
	return sn->attached;
}

unsigned
secnotify_attached_total(struct secnotify *sn)
{
	return sn->attached_total;
}

int64_t
secnotify_denied(struct secnotify *sn)
{
	return sn->denied;
}

static void
notifier_close(struct sn_notifier *n)
{
	struct secnotify *sn = n->sn;
	for (struct sn_notifier **p = &sn->notifiers; *p; p = &(*p)->next)
		if (*p == n) {
			*p = n->next;
			break;
		}
	sn->attached--;
	ab_loop_unwatch(sn->loop, n->watch);
	close(n->fd);
	free(n->user);
	free(n->role);
	free(n->id);
	free(n);
}

static void
notify_readable(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct sn_notifier *n = data;
	struct secnotify *sn = n->sn;
	_cleanup_free_ struct seccomp_notif *req = ab_xcalloc(1, sn->sizes.seccomp_notif);
	_cleanup_free_ struct seccomp_notif_resp *resp =
	    ab_xcalloc(1, sn->sizes.seccomp_notif_resp);
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) {
		if (errno == EINTR || errno == ENOENT || errno == EAGAIN)
			return;
		/* No task uses the filter any more (or the fd broke): done with it. */
		notifier_close(n);
		return;
	}
	resp->id = req->id;
	resp->error = -EPERM;
	resp->val = 0;
	resp->flags = 0;
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0 && errno != ENOENT)
		ab_debug("secnotify: answering '%s': %s", n->user, strerror(errno));
	sn->denied++;

	int64_t sec = ab_now_ms() / 1000;
	if (sec != n->second) {
		n->second = sec;
		n->in_second = 0;
	}
	if (++n->in_second > SECNOTIFY_BURST) {
		n->suppressed++;
		return;
	}
	char *name = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr);
	json_t *d =
	    json_pack("{s:s, s:i, s:i, s:s, s:s}", "syscall", name ? name : "?", "nr", req->data.nr,
	              "pid", (int)req->pid, "container", n->id, "action", "EPERM");
	free(name);
	if (n->suppressed) {
		json_object_set_new(d, "suppressed_before", json_integer(n->suppressed));
		n->suppressed = 0;
	}
	audit_log("container.seccomp", AUDIT_DENY, n->user, n->role, NULL, d);
}

static void
notify_event(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct sn_notifier *n = data;
	/* Hang-up: no task uses the filter any more. */
	if (events & AB_LOOP_ERROR) {
		notifier_close(n);
		return;
	}
	if (events & AB_LOOP_READ)
		notify_readable(loop, fd, events, data);
}

static void
conn_close(struct sn_conn *c)
{
	struct secnotify *sn = c->sn;
	for (struct sn_conn **p = &sn->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	ab_loop_unwatch(sn->loop, c->watch);
	close(c->fd);
	if (c->notify_fd >= 0)
		close(c->notify_fd);
	free(c->buf);
	free(c);
}

/* The runtime sent everything: the container state JSON plus the fd. */
static void
conn_finish(struct sn_conn *c)
{
	struct secnotify *sn = c->sn;
	json_t *msg = c->buf ? json_loadb(c->buf, c->len, 0, NULL) : NULL;
	json_t *state = json_object_get(msg, "state");
	json_t *ann = json_object_get(state, "annotations");
	const char *user = json_string_value(json_object_get(ann, "org.argobox.user"));
	const char *role = json_string_value(json_object_get(ann, "org.argobox.role"));
	const char *id = json_string_value(json_object_get(state, "id"));
	if (c->notify_fd < 0 || !user) {
		ab_warn("secnotify: a runtime connected without a notify fd or container state");
		json_decref(msg);
		conn_close(c);
		return;
	}
	struct sn_notifier *n = ab_xcalloc(1, sizeof(*n));
	n->sn = sn;
	n->fd = TAKE_FD(c->notify_fd);
	n->user = ab_xstrdup(user);
	n->role = ab_xstrdup(role ? role : "unknown");
	n->id = ab_xstrdup(id ? id : user);
	ab_fd_set_nonblock(n->fd, true);
	n->watch = ab_loop_watch(sn->loop, n->fd, AB_LOOP_READ, notify_event, n);
	n->next = sn->notifiers;
	sn->notifiers = n;
	sn->attached++;
	sn->attached_total++;
	json_t *d = json_pack("{s:s, s:s}", "container", n->id, "listener", "attached");
	audit_log("container.seccomp.listener", AUDIT_INFO, n->user, n->role, NULL, d);
	json_decref(msg);
	conn_close(c);
}

static void
conn_readable(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct sn_conn *c = data;
	char buf[16384];
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); n >= 0 && cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *fds = (int *)CMSG_DATA(cm);
		for (size_t i = 0; i < nfds; i++) {
			if (c->notify_fd < 0)
				c->notify_fd = fds[i];
			else
				close(fds[i]);
		}
	}
	if (n > 0) {
		if (c->len + (size_t)n > (1u << 20)) {
			conn_close(c);
			return;
		}
		c->buf = ab_xrealloc(c->buf, c->len + (size_t)n + 1);
		memcpy(c->buf + c->len, buf, (size_t)n);
		c->len += (size_t)n;
		c->buf[c->len] = '\0';
		/* runc sends one message and closes; stop as soon as it parses. */
		json_t *probe = json_loadb(c->buf, c->len, 0, NULL);
		if (probe && c->notify_fd >= 0) {
			json_decref(probe);
			conn_finish(c);
		} else {
			json_decref(probe);
		}
		return;
	}
	conn_finish(c);
}

static void
listen_readable(struct ab_loop *loop, int fd, unsigned events, void *data)
{
	struct secnotify *sn = data;
	int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return;
	struct sn_conn *c = ab_xcalloc(1, sizeof(*c));
	c->sn = sn;
	c->fd = cfd;
	c->notify_fd = -1;
	c->watch = ab_loop_watch(loop, cfd, AB_LOOP_READ, conn_readable, c);
	c->next = sn->conns;
	sn->conns = c;
}

int
secnotify_new_fd(struct ab_loop *loop, int fd, struct secnotify **ret, struct ab_err *err)
{
	struct seccomp_notif_sizes sizes;
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0) {
		int e = errno;
		close(fd);
		return ab_err_errno(err, e, "seccomp user notification is unavailable");
	}
	ab_fd_set_nonblock(fd, true);
	struct secnotify *sn = ab_xcalloc(1, sizeof(*sn));
	sn->loop = loop;
	sn->listen_fd = fd;
	sn->sizes = sizes;
	/* The kernel may grow these structs; never hand it less than ours. */
	sn->sizes.seccomp_notif = AB_MAX(sizes.seccomp_notif, sizeof(struct seccomp_notif));
	sn->sizes.seccomp_notif_resp =
	    AB_MAX(sizes.seccomp_notif_resp, sizeof(struct seccomp_notif_resp));
	sn->listen_watch = ab_loop_watch(loop, fd, AB_LOOP_READ, listen_readable, sn);
	*ret = sn;
	return 0;
}

int
secnotify_new(struct ab_loop *loop, const char *path, struct secnotify **ret, struct ab_err *err)
{
	int fd = ab_unix_listen(path, 0600, err);
	if (fd < 0)
		return ab_err_wrap(err, "seccomp listener");
	return secnotify_new_fd(loop, fd, ret, err);
}

void
secnotify_stop_listening(struct secnotify *sn)
{
	if (sn->listen_fd < 0)
		return;
	ab_loop_unwatch(sn->loop, sn->listen_watch);
	sn->listen_watch = NULL;
	close(sn->listen_fd);
	sn->listen_fd = -1;
}

void
secnotify_free(struct secnotify *sn)
{
	if (!sn)
		return;
	while (sn->conns)
		conn_close(sn->conns);
	while (sn->notifiers)
		notifier_close(sn->notifiers);
	secnotify_stop_listening(sn);
	free(sn);
}
