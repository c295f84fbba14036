/* SPDX-License-Identifier: GPL-2.0-or-later */
/* launcher_oci: desktop sessions in OCI containers (see launcher_oci.h). */
#include "launcher_oci.h"
#include "ab_log.h"
#include "ab_safe.h"
#include "ab_util.h"
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SESSION_IN_CONTAINER "/opt/argobox/argobox-session"

struct oci_launcher {
	struct launcher base;
	struct ab_loop *loop;
	struct runtime *rt;
	char *session;
	launcher_oci_profile_fn profile_for;
	void *data;
	struct launch *launches;
};

struct launch {
	struct oci_launcher *ol;
	char *user;
	launch_event_fn fn;
	void *data;
	bool ready, exited;
	struct ab_timer *adopt_timer; /* adopted: LAUNCH_READY from the loop */
	struct launch *next;
};

static struct oci_launcher *
to_oci(struct launcher *l)
{
	return (struct oci_launcher *)l;
}

static void
emit_exited(struct launch *la, int status)
{
	if (la->exited)
		return;
	la->exited = true;
	la->fn(la, LAUNCH_EXITED, status, la->data);
}

static void
on_ready(struct runtime *rt, const char *user, int status, const char *msg, void *data)
{
	struct launch *la = data;
	if (status == 0) {
		la->ready = true;
		la->fn(la, LAUNCH_READY, 0, la->data);
		return;
	}
	ab_warn("launcher: desktop of '%s' did not start: %s", user, msg ? msg : "");
	emit_exited(la, status);
}

static void
on_stopped(struct runtime *rt, const char *user, int status, const char *msg, void *data)
{
	emit_exited(data, status);
}

static void
on_exit_(struct runtime *rt, const char *user, int status, const char *msg, void *data)
{
	struct oci_launcher *ol = data;
	for (struct launch *la = ol->launches; la; la = la->next)
		if (!la->exited && !strcmp(la->user, user)) {
			emit_exited(la, status);
			return;
		}
}

/*
 * Hands `name` (a file the broker just wrote in the user's runtime dir) to
 * the user's mapped uid. The directory is writable from inside the
 * container, so the name is opened beneath it with no symlink on the way,
 * and only a regular file with one link is given away; anything else is
 * left alone and audited as desktop.file_attack deny.
 */
static void
give_file(const char *user, const char *runtime_dir, const char *name, uid_t host,
          const struct runtime_spec *spec)
{
	_cleanup_close_ int dfd = open(runtime_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return;
	_cleanup_close_ int fd = ab_open_beneath(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
	struct stat st;
	if (fd == -ENOENT)
		return;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		_cleanup_free_ char *path = ab_xasprintf("%s/%s", runtime_dir, name);
		_cleanup_free_ char *found = ab_path_describe(path);
		ab_error("launcher: '%s' is not the file the broker wrote (%s): left alone", path,
		         found);
		audit_log("desktop.file_attack", AUDIT_DENY, user, NULL, NULL,
		          json_pack("{ssssssss}", "path", path, "found", found, "action", "chown",
		                    "reason", fd < 0 ? strerror(-fd) : "not a regular file"));
		return;
	}
	if (fchown(fd, host + spec->uid, host + spec->gid) < 0)
		ab_warn("launcher: chown '%s/%s': %m", runtime_dir, name);
}

static int
oci_start(struct launcher *l, const struct launch_request *req, launch_event_fn fn, void *data,
          struct launch **ret, struct ab_err *err)
{
	struct oci_launcher *ol = to_oci(l);
	struct launcher_oci_profile p = {0};
	int r = ol->profile_for(req->user, &p, ol->data, err);
	if (r < 0)
		return ab_err_wrap(err, "container profile of '%s'", req->user);

	bool under_usr = !strncmp(ol->session, "/usr/", 5);
	size_t nargs = 0;
	while (req->desktop_command && req->desktop_command[nargs])
		nargs++;
	_cleanup_free_ const char **argv = ab_xcalloc(nargs + 9, sizeof(*argv));
	size_t n = 0;
	argv[n++] = under_usr ? ol->session : SESSION_IN_CONTAINER;
	argv[n++] = "--runtime-dir";
	argv[n++] = "/run/argobox";
	if (req->geometry) {
		argv[n++] = "--geometry";
		argv[n++] = req->geometry;
	}
	argv[n++] = "--ready-fd";
	argv[n++] = "3";
	argv[n++] = "--";
	for (size_t i = 0; i < nargs; i++)
		argv[n++] = req->desktop_command[i];
	argv[n] = NULL;

	_cleanup_free_ struct runtime_mount *mounts =
	    ab_xcalloc(p.spec.n_mounts + 1, sizeof(*mounts));
	for (size_t i = 0; i < p.spec.n_mounts; i++)
		mounts[i] = p.spec.mounts[i];
	size_t nm = p.spec.n_mounts;
	if (!under_usr)
		mounts[nm++] = (struct runtime_mount){ol->session, SESSION_IN_CONTAINER, false};

	/* The session sees the runtime dir at /run/argobox: translate paths under it. */
	size_t nenv = 0, rdl = strlen(req->runtime_dir);
	while (req->env && req->env[nenv])
		nenv++;
	_cleanup_free_ char **env = ab_xcalloc(nenv + 1, sizeof(*env));
	for (size_t i = 0; i < nenv; i++) {
		const char *eq = strchr(req->env[i], '=');
		const char *v = eq ? eq + 1 : "";
		if (eq && !strncmp(v, req->runtime_dir, rdl) && v[rdl] == '/') {
			env[i] = ab_xasprintf("%.*s/run/argobox%s", (int)(v - req->env[i]),
			                      req->env[i], v + rdl);
			/* A file the broker wrote for the session (the state to restore):
			 * the user's mapped uid must be able to read it. */
			give_file(req->user, req->runtime_dir, v + rdl + 1, bundle_host_id(&p.spec),
			          &p.spec);
		} else
			env[i] = ab_xstrdup(req->env[i]);
	}
	if (nenv && !p.spec.env)
		p.spec.env = (const char *const *)env;

	p.spec.user = req->user;
	p.spec.runtime_dir = req->runtime_dir;
	p.spec.argv = argv;
	p.spec.mounts = mounts;
	p.spec.n_mounts = nm;
	p.net.user = req->user;
	p.net.role = p.spec.role;
	p.net.index = p.spec.index;

	struct launch *la = ab_xcalloc(1, sizeof(*la));
	la->ol = ol;
	la->user = ab_xstrdup(req->user);
	la->fn = fn;
	la->data = data;
	r = runtime_start(ol->rt, &p.spec, p.has_net ? &p.net : NULL, NULL, on_ready, la, err);
	for (size_t i = 0; i < nenv; i++)
		free(env[i]);
	if (r < 0) {
		free(la->user);
		free(la);
		return r;
	}
	la->next = ol->launches;
	ol->launches = la;
	*ret = la;
	return 0;
}

static void
oci_stop(struct launcher *l, struct launch *la)
{
	if (!la || la->exited || !to_oci(l)->rt)
		return;
	struct ab_err err = {0};
	int r = runtime_stop(to_oci(l)->rt, la->user, on_stopped, la, &err);
	if (r < 0 && r != -EALREADY)
		ab_warn("launcher: stopping '%s': %s", la->user, err.msg);
}

static void
oci_release(struct launcher *l, struct launch *la)
{
	if (!la)
		return;
	struct oci_launcher *ol = to_oci(l);
	ab_loop_timer_cancel(ol->loop, la->adopt_timer);
	for (struct launch **p = &ol->launches; *p; p = &(*p)->next)
		if (*p == la) {
			*p = la->next;
			break;
		}
	free(la->user);
	free(la);
}

static pid_t
oci_pid(struct launcher *l, struct launch *la)
{
	pid_t pid = la && to_oci(l)->rt ? runtime_pid(to_oci(l)->rt, la->user) : 0;
	return pid > 0 ? pid : 0;
}

/*
 * The session is the container's init (argobox-session is its first
 * process and serves rfb.sock and control.sock itself): the peer must be
 * that very pid. Another process of the same container (the user's own
 * listener), another user's session or anything on the host is refused.
 */
static int
oci_check_peer(struct launcher *l, struct launch *la, const struct ucred *peer, struct ab_err *err)
{
	pid_t init = oci_pid(l, la);
	if (init <= 0)
		return ab_err_set(err, EPERM, "the container of '%s' is not running",
		                  la ? la->user : "?");
	if (peer->pid != init)
		return ab_err_set(err, EPERM,
		                  "served by pid %d uid %u, the session is the container's init, "
		                  "pid %d",
		                  (int)peer->pid, (unsigned)peer->uid, (int)init);
	return 0;
}

static void
oci_shutdown(struct launcher *l, int64_t timeout_ms)
{
	/* Desktops persist across broker restarts: leave them to runtime_adopt(). */
	ab_info("launcher: leaving %s containers running for the next broker",
	        runtime_name(to_oci(l)->rt));
}

static void
oci_free(struct launcher *l)
{
	struct oci_launcher *ol = to_oci(l);
	launcher_oci_detach(l);
	while (ol->launches)
		oci_release(l, ol->launches);
	free(ol->session);
	free(ol);
}

static int64_t
adopt_ready(struct ab_loop *loop, void *data)
{
	struct launch *la = data;
	la->adopt_timer = NULL;
	if (!la->exited && runtime_pid(la->ol->rt, la->user) > 0) {
		la->ready = true;
		la->fn(la, LAUNCH_READY, 0, la->data);
	} else {
		emit_exited(la, -ESRCH);
	}
	return AB_TIMER_STOP;
}

/* A container runtime_adopt() found running: the desktop manager takes it back. */
static int
oci_adopt(struct launcher *l, const char *user, const char *runtime_dir, launch_event_fn fn,
          void *data, struct launch **ret, struct ab_err *err)
{
	struct oci_launcher *ol = to_oci(l);
	/*
	 * Running, with its init: a container that stopped while no broker
	 * watched it (known to the runtime until isolation removes it) is not a
	 * desktop; its runtime dir may still hold the dead session's sockets.
	 */
	if (runtime_pid(ol->rt, user) <= 0)
		return ab_err_set(err, ENOENT, "no running container of '%s' to adopt", user);
	for (struct launch *la = ol->launches; la; la = la->next)
		if (!la->exited && !strcmp(la->user, user))
			return ab_err_set(err, EEXIST, "the container of '%s' is already managed",
			                  user);
	struct launch *la = ab_xcalloc(1, sizeof(*la));
	la->ol = ol;
	la->user = ab_xstrdup(user);
	la->fn = fn;
	la->data = data;
	la->adopt_timer = ab_loop_timer(ol->loop, 0, adopt_ready, la);
	la->next = ol->launches;
	ol->launches = la;
	*ret = la;
	return 0;
}

void
launcher_oci_detach(struct launcher *l)
{
	struct oci_launcher *ol = to_oci(l);
	if (ol->rt)
		runtime_set_exit_handler(ol->rt, NULL, NULL);
	ol->rt = NULL;
}

static const struct launcher_ops oci_ops = {
    .start = oci_start,
    .stop = oci_stop,
    .release = oci_release,
    .pid = oci_pid,
    .shutdown = oci_shutdown,
    .free = oci_free,
    .adopt = oci_adopt,
    .check_peer = oci_check_peer,
};

struct launcher *
launcher_oci_new(struct ab_loop *loop, struct runtime *rt, const char *session_binary,
                 launcher_oci_profile_fn profile_for, void *data)
{
	struct oci_launcher *ol = ab_xcalloc(1, sizeof(*ol));
	ol->base.ops = &oci_ops;
	ol->loop = loop;
	ol->rt = rt;
	ol->session = ab_xstrdup(session_binary);
	ol->profile_for = profile_for;
	ol->data = data;
	runtime_set_exit_handler(rt, on_exit_, ol);
	return &ol->base;
}
