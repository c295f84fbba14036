/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * argoboxctl: the admin console on the command line, over the broker's admin socket
 * (broker/admin/admin_socket.h); docs/argoboxctl.md is its manual.
 *
 *   argoboxctl [--socket PATH] [--json] COMMAND ...   (--json may come anywhere before "--")
 *     status
 *     desktops list [--user U] [--profile P] [--state S]         (list: the same)
 *     desktops stop|restart|destroy USER... | --all | [--user U] [--profile P] [--state S]
 *     stop USER                                                   (desktops stop USER)
 *     state show USER | state reset USER
 *     broadcast --user U | --profile P | --all [--title T] [--urgency low|normal|critical] MSG
 *     services list | reload | status NAME | check NAME | restart NAME | diag NAME
 *     audit query [--from T] [--to T] [--user U] [--event PREFIX] [--outcome O] [--text S]
 *                 [--limit N] [--data-dir DIR | --db FILE]
 *     audit report --from T --to T [--user U] [--format json|csv|html] [--limit N] [--output F]
 *     audit verify [--data-dir DIR] [--db FILE] [--key FILE]
 *     users list | add NAME --role R --profile P [--email E] | passwd NAME | disable NAME
 *           | enable NAME | unlock NAME | vnc-reset NAME | role NAME ROLE | profile NAME P
 *           | delete NAME --home keep|remove     (passwords from stdin)
 *     exec USER [--] CMD [ARG...]    (root: CMD inside USER's desktop container, nsexec.h)
 *
 * Exit status: 0 done; 1 failed (the broker is not running, an area failed); 2 usage (a wrong
 * command line, or input the broker refused as invalid); 3 not found (no such desktop,
 * service, or nothing matched a filter); 4 refused (the broker would not do it: audit store
 * failing closed, not allowed). `audit verify` exits 1 when it found tampering (2 when it
 * could not check). `audit query` asks the broker (audited as admin.audit.query) unless
 * --data-dir/--db name the store to read directly (offline, not audited); `audit verify`
 * reads the store directly (the broker running or not); everything else asks the broker, which
 * audits every action with the caller's uid (admin.ctl). `exec` exits with the command's status
 * (125 when the container could not be entered; 3 and 4 as above before the command runs).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ab_proto.h"
#include "ab_sock.h"
#include "ab_util.h"
#include "audit.h"
#include "auditdb.h"
#include "auditreport.h"
#include "broker_config.h"
#include "nsexec.h"

enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_NOT_FOUND = 3,
	EXIT_REFUSED = 4,
};

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: argoboxctl [--socket PATH] [--json] COMMAND ...\n"
	        "  status\n"
	        "  desktops list [--user U] [--profile P] [--state S]\n"
	        "  desktops stop|restart|destroy USER... | --all | [--user U] [--profile P] "
	        "[--state S]\n"
	        "  state show USER | state reset USER\n"
	        "  broadcast --user U | --profile P | --all [--title T] "
	        "[--urgency low|normal|critical] MESSAGE\n"
	        "  services list | reload | status NAME | check NAME | restart NAME | diag NAME\n"
	        "  audit query [--from T] [--to T] [--user U] [--event PREFIX] [--outcome O]\n"
	        "              [--text S] [--limit N] [--data-dir DIR | --db FILE (offline)]\n"
	        "  audit report --from T --to T [--user U] [--format json|csv|html] [--limit N]\n"
	        "               [--output FILE]\n"
	        "  audit verify [--data-dir DIR] [--db FILE] [--key FILE]\n"
	        "  users list | add NAME --role R --profile P [--email E] | passwd NAME\n"
	        "        | disable|enable|unlock|vnc-reset NAME | role NAME ROLE\n"
	        "        | profile NAME PROFILE | delete NAME --home keep|remove\n"
	        "        (passwords are read from stdin)\n"
	        "  exec USER [--] CMD [ARG...]\n"
	        "exit status: 0 ok, 1 failed, 2 usage or invalid input, 3 not found, 4 refused\n"
	        "(docs/argoboxctl.md)\n");
}

/* The exit status an answer stands for (see the top of this file). */
static int
exit_of(json_t *ans)
{
	if (strcmp(ab_proto_type(ans), "error") != 0)
		return EXIT_OK;
	const char *code = json_string_value(json_object_get(ans, "code"));
	if (!code)
		return EXIT_FAILED;
	return strcmp(code, "not_found") == 0 ? EXIT_NOT_FOUND
	       : strcmp(code, "refused") == 0 ? EXIT_REFUSED
	       : strcmp(code, "invalid") == 0 ? EXIT_USAGE
	                                      : EXIT_FAILED;
}

static void
print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	putchar('\n');
}

/* An error answer on stderr ("argoboxctl: WHAT: msg"), or all of it as JSON with --json. */
static int
print_error(const char *what, json_t *ans, bool as_json)
{
	if (as_json)
		print_json(ans);
	else
		fprintf(stderr, "argoboxctl: %s: %s\n", what,
		        json_string_value(json_object_get(ans, "msg")) ?: "failed");
	return exit_of(ans);
}

static int
request(const char *path, json_t *req, json_t **ret)
{
	struct ab_err err = {0};
	_cleanup_close_ int fd = ab_unix_connect(path, &err);
	if (fd < 0) {
		fprintf(stderr, "argoboxctl: %s (is argobox-broker running?)\n", err.msg);
		json_decref(req);
		return -1;
	}
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = ab_proto_encode(req, &buf, &len, &err);
	json_decref(req);
	if (r < 0 || ab_write_all(fd, buf, len) < 0) {
		fprintf(stderr, "argoboxctl: sending the request failed\n");
		return -1;
	}
	struct ab_proto_reader rd;
	ab_proto_reader_init(&rd);
	for (;;) {
		char in[8192];
		ssize_t n = read(fd, in, sizeof(in));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "argoboxctl: the broker closed the connection\n");
			break;
		}
		ab_proto_reader_feed(&rd, in, (size_t)n);
		r = ab_proto_reader_next(&rd, ret, &err);
		if (r < 0) {
			fprintf(stderr, "argoboxctl: %s\n", err.msg);
			break;
		}
		if (r > 0) {
			ab_proto_reader_free(&rd);
			return 0;
		}
	}
	ab_proto_reader_free(&rd);
	return -1;
}

/*
 * `services list` as a table, `reload` as what changed, `status` as key: value lines, `restart`
 * as one line.
 */
static void
services_print(const char *sub, const char *name, json_t *ans)
{
	if (strcmp(sub, "restart") == 0) {
		printf("%s: restarting\n", name);
		return;
	}
	if (strcmp(sub, "reload") == 0) {
		static const char *const keys[] = {"added", "removed", "changed"};
		printf("reloaded: %lld services",
		       (long long)json_integer_value(json_object_get(ans, "services")));
		for (size_t k = 0; k < AB_ARRAY_SIZE(keys); k++) {
			json_t *l = json_object_get(ans, keys[k]), *v;
			size_t j;
			printf("; %s:", keys[k]);
			if (!json_array_size(l))
				printf(" none");
			json_array_foreach(l, j, v) printf(" %s", json_string_value(v));
		}
		putchar('\n');
		return;
	}
	json_t *list = json_object_get(ans, "services");
	if (strcmp(sub, "status") == 0) {
		list = json_array();
		json_array_append(list, json_object_get(ans, "service"));
	} else {
		json_incref(list);
	}
	printf("%-20s %-9s %10s %6s %-9s %s\n", "NAME", "STATE", "LATENCY_MS", "CHECKS", "RESTART",
	       "REASON");
	size_t k;
	json_t *s;
	json_array_foreach(list, k, s)
	{
		json_t *rs = json_object_get(s, "restart");
		const char *method = json_string_value(json_object_get(rs, "method"));
		const char *rstate = !method                                          ? "-"
		                     : json_is_true(json_object_get(rs, "escalated")) ? "escalated"
		                     : json_is_true(json_object_get(rs, "running"))   ? "running"
		                                                                      : method;
		printf("%-20s %-9s %10.1f %6lld %-9s %s\n",
		       json_string_value(json_object_get(s, "name")),
		       json_string_value(json_object_get(s, "state")),
		       json_number_value(json_object_get(s, "latency_ms")),
		       (long long)json_integer_value(json_object_get(s, "checks")), rstate,
		       json_string_value(json_object_get(s, "reason")));
	}
	json_decref(list);
}

static int request(const char *path, json_t *req, json_t **ret);

static char *
default_socket(void)
{
	_cleanup_free_ char *base = broker_default_runtime_base();
	return ab_xasprintf("%s/broker.sock", base);
}

/* argoboxctl audit report: asks the broker, renders here. */
static int
audit_report(int argc, char **argv, const char *sock)
{
	const char *from = NULL, *to = NULL, *user = NULL, *format = "json", *out = NULL;
	long limit = 0;
	for (int i = 0; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v && strcmp(argv[i], "--from") == 0)
			from = v;
		else if (v && strcmp(argv[i], "--to") == 0)
			to = v;
		else if (v && strcmp(argv[i], "--user") == 0)
			user = v;
		else if (v && strcmp(argv[i], "--format") == 0)
			format = v;
		else if (v && strcmp(argv[i], "--output") == 0)
			out = v;
		else if (v && strcmp(argv[i], "--socket") == 0)
			sock = v;
		else if (v && strcmp(argv[i], "--limit") == 0) {
			char *end;
			limit = strtol(v, &end, 10);
			if (*end || limit < 1 || limit > AUDITREPORT_ITEMS_MAX) {
				fprintf(stderr, "argoboxctl: --limit: 1 to %d rows per list\n",
				        AUDITREPORT_ITEMS_MAX);
				return 2;
			}
		} else {
			return ab_usage(usage, false);
		}
		i++;
	}
	int fmt = auditreport_format_from_name(format);
	if (!from || !to || fmt < 0) {
		fprintf(stderr, "argoboxctl: audit report needs --from and --to%s\n",
		        fmt < 0 ? ", and --format is json, csv or html" : "");
		return 2;
	}
	json_t *req = ab_proto_msg("audit_report",
	                           json_pack("{ssssss}", "from", from, "to", to, "format", format));
	if (limit)
		json_object_set_new(req, "limit", json_integer(limit));
	if (user)
		json_object_set_new(req, "user", json_string(user));
	_cleanup_free_ char *def = default_socket();
	json_t *ans = NULL;
	if (request(sock ? sock : def, req, &ans) < 0)
		return 1;
	json_t *rep = json_object_get(ans, "report");
	if (strcmp(ab_proto_type(ans), "audit_report") != 0 || !json_is_object(rep)) {
		const char *msg = json_string_value(json_object_get(ans, "msg"));
		fprintf(stderr, "argoboxctl: audit report: %s\n", msg ? msg : "unexpected answer");
		json_decref(ans);
		return 1;
	}
	size_t len;
	_cleanup_free_ char *text = auditreport_render(rep, (enum auditreport_format)fmt, &len);
	json_decref(ans);
	_cleanup_fclose_ FILE *f = out ? fopen(out, "we") : NULL;
	if (out && !f) {
		fprintf(stderr, "argoboxctl: cannot write '%s': %s\n", out, strerror(errno));
		return 1;
	}
	if (fwrite(text, 1, len, f ? f : stdout) != len || fflush(f ? f : stdout) != 0) {
		fprintf(stderr, "argoboxctl: writing the report failed: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

/*
 * `services diag NAME`: starts a diagnostic, polls until it is over (the broker runs it on its
 * loop), prints its steps.
 */
static int
services_diag(const char *sock, const char *name, bool as_json)
{
	json_t *ans = NULL;
	if (request(sock, ab_proto_msg("services_diag", json_pack("{ss}", "name", name)), &ans) < 0)
		return 1;
	json_int_t id = json_integer_value(json_object_get(ans, "last_id"));
	for (int64_t end = ab_now_ms() + 130000; strcmp(ab_proto_type(ans), "error") != 0 &&
	                                         json_is_true(json_object_get(ans, "running")) &&
	                                         ab_now_ms() < end;) {
		json_decref(ans);
		ans = NULL;
		usleep(100000);
		if (request(sock,
		            ab_proto_msg("services_diag_result", json_pack("{ss}", "name", name)),
		            &ans) < 0)
			return 1;
	}
	if (strcmp(ab_proto_type(ans), "error") == 0 || as_json) {
		json_dumpf(ans, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
		int rc = strcmp(ab_proto_type(ans), "error") == 0;
		json_decref(ans);
		return rc;
	}
	json_t *res = NULL, *r;
	size_t k;
	json_array_foreach(json_object_get(ans, "results"), k,
	                   r) if (json_integer_value(json_object_get(r, "id")) == id) res = r;
	if (!res) {
		fprintf(stderr, "argoboxctl: the diagnostic of '%s' did not finish\n", name);
		json_decref(ans);
		return 1;
	}
	const char *failed = json_string_value(json_object_get(res, "failed_step"));
	printf("%s: %s (address %s)\n", name, failed ? "FAILED" : "ok",
	       json_string_value(json_object_get(res, "address")));
	static const char *const steps[] = {"dns", "tcp", "tls", "http"};
	for (size_t i = 0; i < AB_ARRAY_SIZE(steps); i++) {
		json_t *st = json_object_get(json_object_get(res, "steps"), steps[i]);
		if (!st)
			continue;
		printf("  %-5s %-4s %8.1f ms", steps[i],
		       json_is_true(json_object_get(st, "ok")) ? "ok" : "FAIL",
		       json_number_value(
		           json_object_get(st, strcmp(steps[i], "http") ? "ms" : "total_ms")));
		if (json_object_get(st, "status"))
			printf("  status %lld",
			       (long long)json_integer_value(json_object_get(st, "status")));
		putchar('\n');
	}
	if (failed)
		printf("  error: %s\n", json_string_value(json_object_get(res, "error")));
	json_decref(ans);
	return failed ? 1 : 0;
}

static int
audit_main(int argc, char **argv, const char *sock)
{
	const char *data_dir = NULL, *db = NULL, *key = NULL;
	if (argc >= 1 && strcmp(argv[0], "report") == 0)
		return audit_report(argc - 1, argv + 1, sock);
	if (argc < 1 || strcmp(argv[0], "verify") != 0)
		return ab_usage(usage, false);
	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && strcmp(argv[i], "--data-dir") == 0)
			data_dir = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--db") == 0)
			db = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--key") == 0)
			key = argv[++i];
		else
			return ab_usage(usage, false);
	}
	_cleanup_free_ char *def_dir = data_dir ? NULL : broker_default_data_dir();
	if (!data_dir)
		data_dir = def_dir;
	_cleanup_free_ char *def_db = ab_xasprintf("%s/audit/audit.db", data_dir);
	_cleanup_free_ char *def_key = ab_xasprintf("%s/audit/signing.key.pub", data_dir);
	if (!db)
		db = def_db;
	if (!key)
		key = def_key;
	if (access(db, R_OK) < 0) {
		fprintf(stderr, "argoboxctl: cannot read the audit store '%s': %s\n", db,
		        strerror(errno));
		return 2;
	}
	struct auditdb_verify_result res;
	struct ab_err err = {0};
	int64_t t0 = ab_now_ms();
	int r = auditdb_verify(db, key, stdout, 50, &res, &err);
	if (r < 0) {
		fprintf(stderr, "argoboxctl: audit verify: %s\n", err.msg);
		return 2;
	}
	printf("%s: %llu records (%lld..%lld), %u daily anchors, head %s, %u problems, %lld ms\n",
	       r == 0 ? "OK" : "TAMPERED", (unsigned long long)res.records,
	       (long long)res.first_seq, (long long)res.last_seq, res.anchors,
	       res.head_ok ? "signed and matching" : "NOT matching", res.problems,
	       (long long)(ab_now_ms() - t0));
	return r == 0 ? 0 : 1;
}

/* ---- desktops ---- */

struct filter {
	const char *user, *profile, *state;
};

static bool
filter_match(const struct filter *f, json_t *d)
{
	const char *v;
	if (f->user && (!(v = json_string_value(json_object_get(d, "user"))) || strcmp(v, f->user)))
		return false;
	if (f->profile &&
	    (!(v = json_string_value(json_object_get(d, "profile"))) || strcmp(v, f->profile)))
		return false;
	if (f->state &&
	    (!(v = json_string_value(json_object_get(d, "state"))) || strcmp(v, f->state)))
		return false;
	return true;
}

/* Reads --user/--profile/--state (and --all) from argv[*i]; true when it was one. */
static bool
filter_arg(struct filter *f, bool *all, int argc, char **argv, int *i)
{
	const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
	if (strcmp(argv[*i], "--all") == 0) {
		*all = true;
		return true;
	}
	const char **slot = strcmp(argv[*i], "--user") == 0      ? &f->user
	                    : strcmp(argv[*i], "--profile") == 0 ? &f->profile
	                    : strcmp(argv[*i], "--state") == 0   ? &f->state
	                                                         : NULL;
	if (!slot || !v)
		return false;
	*slot = v;
	(*i)++;
	return true;
}

static void
desktops_print(json_t *list)
{
	printf("%-16s %-12s %-9s %8s %7s %10s %s\n", "USER", "PROFILE", "STATE", "PID", "CLIENTS",
	       "UPTIME_S", "CONTROL");
	size_t k;
	json_t *d;
	json_array_foreach(list, k, d)
	{
		const char *prof = json_string_value(json_object_get(d, "profile"));
		printf("%-16s %-12s %-9s %8lld %7lld %10lld %s\n",
		       json_string_value(json_object_get(d, "user")), prof && *prof ? prof : "-",
		       json_string_value(json_object_get(d, "state")),
		       (long long)json_integer_value(json_object_get(d, "pid")),
		       (long long)json_integer_value(json_object_get(d, "clients")),
		       (long long)json_integer_value(json_object_get(d, "uptime_ms")) / 1000,
		       json_is_true(json_object_get(d, "control")) ? "up" : "-");
	}
}

/* The desktops matching f (new reference), or NULL after printing why (*rc set). */
static json_t *
desktops_matching(const char *sock, const struct filter *f, int *rc)
{
	json_t *ans = NULL;
	if (request(sock, ab_proto_msg("list", NULL), &ans) < 0) {
		*rc = EXIT_FAILED;
		return NULL;
	}
	json_t *out = json_array(), *d;
	size_t k;
	json_array_foreach(json_object_get(ans, "desktops"), k, d) if (filter_match(f, d))
	    json_array_append(out, d);
	json_decref(ans);
	return out;
}

/*
 * desktops list|stop|restart|destroy: an action on the named users, or on every desktop the
 * filters match (--all: every desktop). One request per desktop, each audited by the broker;
 * the exit status is the first failure's, 3 when nothing matched.
 */
static int
desktops_cmd(const char *sock, int argc, char **argv, bool as_json)
{
	if (argc < 1)
		return ab_usage(usage, false);
	const char *action = argv[0];
	bool list = strcmp(action, "list") == 0;
	if (!list && strcmp(action, "stop") && strcmp(action, "restart") &&
	    strcmp(action, "destroy"))
		return ab_usage(usage, false);
	struct filter f = {0};
	bool all = false;
	json_t *names = json_array();
	for (int i = 1; i < argc; i++) {
		if (filter_arg(&f, &all, argc, argv, &i))
			continue;
		if (argv[i][0] == '-' || list) {
			json_decref(names);
			return ab_usage(usage, false);
		}
		json_array_append_new(names, json_string(argv[i]));
	}
	bool filtered = f.user || f.profile || f.state;
	if (!list && (json_array_size(names) > 0) + filtered + all != 1) {
		json_decref(names);
		fprintf(stderr,
		        "argoboxctl: desktops %s: name users, or filter (--user, --profile, "
		        "--state), or --all\n",
		        action);
		return EXIT_USAGE;
	}
	int rc = EXIT_OK;
	json_t *targets = names;
	if (!json_array_size(names)) {
		json_decref(names);
		targets = desktops_matching(sock, &f, &rc);
		if (!targets)
			return rc;
	}
	if (list) {
		if (as_json) {
			json_t *o = json_pack("{sO}", "desktops", targets);
			print_json(o);
			json_decref(o);
		} else {
			desktops_print(targets);
		}
		json_decref(targets);
		return EXIT_OK;
	}
	if (!json_array_size(targets)) {
		json_decref(targets);
		fprintf(stderr, "argoboxctl: desktops %s: no desktop matches\n", action);
		return EXIT_NOT_FOUND;
	}
	json_t *results = json_array(), *t;
	size_t k;
	json_array_foreach(targets, k, t)
	{
		const char *user = json_is_string(t)
		                       ? json_string_value(t)
		                       : json_string_value(json_object_get(t, "user"));
		json_t *ans = NULL;
		int r = EXIT_FAILED;
		if (request(sock,
		            ab_proto_msg("desktop",
		                         json_pack("{ssss}", "action", action, "user", user)),
		            &ans) == 0)
			r = exit_of(ans);
		if (!as_json && r == EXIT_OK)
			printf("%s: %s\n", user,
			       strcmp(action, "restart") == 0   ? "restarting"
			       : strcmp(action, "destroy") == 0 ? "stopping, stored state reset"
			                                        : "stopping");
		else if (!as_json && ans)
			fprintf(stderr, "argoboxctl: desktops %s %s: %s\n", action, user,
			        json_string_value(json_object_get(ans, "msg")) ?: "failed");
		if (ans) {
			json_object_set_new(ans, "user", json_string(user));
			json_array_append_new(results, ans);
		}
		if (rc == EXIT_OK)
			rc = r;
	}
	json_decref(targets);
	if (as_json)
		print_json(results);
	json_decref(results);
	return rc;
}

/* state show USER (the stored layout as JSON) | state reset USER. */
static int
state_cmd(const char *sock, int argc, char **argv, bool as_json)
{
	if (argc != 2 || (strcmp(argv[0], "show") && strcmp(argv[0], "reset")))
		return ab_usage(usage, false);
	json_t *ans = NULL;
	if (request(sock,
	            ab_proto_msg("state", json_pack("{ssss}", "action", argv[0], "user", argv[1])),
	            &ans) < 0)
		return EXIT_FAILED;
	int rc = exit_of(ans);
	if (rc)
		rc = print_error("state", ans, as_json);
	else if (as_json)
		print_json(json_object_get(ans, "result"));
	else if (strcmp(argv[0], "show") == 0)
		print_json(json_object_get(json_object_get(ans, "result"), "state"));
	else
		printf("%s: desktop state reset (applied at the next desktop start)\n", argv[1]);
	json_decref(ans);
	return rc;
}

/* broadcast (--user U | --profile P | --all) [--title T] [--urgency U] MESSAGE */
static int
broadcast_cmd(const char *sock, int argc, char **argv, bool as_json)
{
	struct filter f = {0};
	bool all = false;
	const char *urgency = "normal", *title = NULL, *message = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--urgency") == 0 && i + 1 < argc) {
			urgency = argv[++i];
		} else if (strcmp(argv[i], "--title") == 0 && i + 1 < argc) {
			title = argv[++i];
		} else if (filter_arg(&f, &all, argc, argv, &i)) {
			if (f.state)
				return ab_usage(usage, false);
		} else if (argv[i][0] != '-' && !message) {
			message = argv[i];
		} else {
			return ab_usage(usage, false);
		}
	}
	if (!message || (f.user != NULL) + (f.profile != NULL) + all != 1) {
		fprintf(stderr,
		        "argoboxctl: broadcast: a MESSAGE, and one of --user, --profile, --all\n");
		return EXIT_USAGE;
	}
	json_t *req =
	    ab_proto_msg("broadcast", json_pack("{ssss}", "body", message, "urgency", urgency));
	if (title)
		json_object_set_new(req, "title", json_string(title));
	if (f.user)
		json_object_set_new(req, "user", json_string(f.user));
	if (f.profile)
		json_object_set_new(req, "profile", json_string(f.profile));
	if (all)
		json_object_set_new(req, "all", json_true());
	json_t *ans = NULL;
	if (request(sock, req, &ans) < 0)
		return EXIT_FAILED;
	int rc = exit_of(ans);
	if (rc) {
		rc = print_error("broadcast", ans, as_json);
	} else if (as_json) {
		print_json(ans);
	} else {
		json_t *v;
		size_t k;
		printf("delivered to %zu desktop(s):",
		       json_array_size(json_object_get(ans, "delivered")));
		json_array_foreach(json_object_get(ans, "delivered"), k, v)
		    printf(" %s", json_string_value(v));
		putchar('\n');
		if (json_integer_value(json_object_get(ans, "skipped")))
			printf("not ready: %lld\n",
			       (long long)json_integer_value(json_object_get(ans, "skipped")));
	}
	json_decref(ans);
	return rc;
}

/* ---- audit query: the store read directly ---- */

/* RFC 3339 ("2026-12-07T10:00:00Z", fractions and offsets not taken), a date, or epoch ms. */
static int
parse_time(const char *s, int64_t *ret)
{
	char *end;
	long long ms = strtoll(s, &end, 10);
	if (*s && !*end && ms >= 0) {
		*ret = ms;
		return 0;
	}
	struct tm tm = {0};
	const char *e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (e && (*e == 'Z' || !*e) && (!*e || !e[1])) {
		*ret = (int64_t)timegm(&tm) * 1000;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	e = strptime(s, "%Y-%m-%d", &tm);
	if (e && !*e) {
		*ret = (int64_t)timegm(&tm) * 1000;
		return 0;
	}
	return -EINVAL;
}

/* One record of a query as a table row (the header: print_row(NULL)). */
static void
print_row(json_t *r)
{
	if (!r) {
		printf("%-24s %-6s %-24s %-8s %-16s %s\n", "TIME", "SEQ", "EVENT", "OUTCOME",
		       "USER", "SOURCE");
		return;
	}
	const char *user = json_string_value(json_object_get(r, "user"));
	const char *source = json_string_value(json_object_get(r, "source"));
	printf("%-24s %-6lld %-24s %-8s %-16s %s\n",
	       json_string_value(json_object_get(r, "time")) ?: "-",
	       (long long)json_integer_value(json_object_get(r, "seq")),
	       json_string_value(json_object_get(r, "event")) ?: "-",
	       json_string_value(json_object_get(r, "outcome")) ?: "-", user ? user : "-",
	       source ? source : "-");
}

/*
 * The store read directly (--data-dir/--db): for when the broker is down. Reading the file
 * needs the data directory's permissions (root); the broker does not see this read, so it is
 * not in the audit (said on stderr).
 */
static int
audit_query_offline(const struct auditdb_query *q, const char *data_dir, const char *db,
                    bool as_json)
{
	fprintf(stderr, "argoboxctl: reading the audit store directly (offline): this read is not "
	                "audited; without --data-dir/--db the broker answers and audits it\n");
	_cleanup_free_ char *def_dir = data_dir ? NULL : broker_default_data_dir();
	_cleanup_free_ char *def_db =
	    ab_xasprintf("%s/audit/audit.db", data_dir ? data_dir : def_dir);
	struct auditdb_reader *rd = NULL;
	struct auditdb_cursor *cur = NULL;
	struct ab_err err = {0};
	if (auditdb_reader_open(db ? db : def_db, 10000, &rd, &err) < 0 ||
	    auditdb_query(rd, q, &cur, &err) < 0) {
		fprintf(stderr, "argoboxctl: audit query: %s\n", err.msg);
		auditdb_reader_close(rd);
		return EXIT_FAILED;
	}
	struct auditdb_record row;
	int r, n = 0;
	if (as_json)
		printf("[");
	else
		print_row(NULL);
	while ((r = auditdb_cursor_next(cur, &row, &err)) > 0) {
		_cleanup_free_ char *line = auditdb_record_json(&row);
		if (as_json) {
			printf("%s\n  %s", n ? "," : "", line);
		} else {
			json_t *j = json_loads(line, 0, NULL);
			print_row(j);
			json_decref(j);
		}
		n++;
	}
	if (as_json)
		printf("%s]\n", n ? "\n" : "");
	auditdb_cursor_free(cur);
	auditdb_reader_close(rd);
	if (r < 0) {
		fprintf(stderr, "argoboxctl: audit query: %s\n", err.msg);
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

#define AUDIT_QUERY_PAGE 200 /* records per admin-socket request: well under its 1 MiB */

/* Through the broker (admin socket), page by page: the broker audits it (admin.audit.query). */
static int
audit_query_broker(const char *sock, json_t *params, unsigned limit, bool as_json)
{
	_cleanup_free_ char *def = default_socket();
	unsigned n = 0;
	int rc = EXIT_OK;
	if (as_json)
		printf("[");
	else
		print_row(NULL);
	while (n < limit) {
		char lim[16];
		snprintf(lim, sizeof(lim), "%u", AB_MIN(limit - n, AUDIT_QUERY_PAGE));
		json_object_set_new(params, "limit", json_string(lim));
		json_t *ans = NULL;
		if (request(sock ? sock : def,
		            ab_proto_msg("audit_query", json_pack("{sO}", "params", params)),
		            &ans) < 0) {
			rc = EXIT_FAILED;
			break;
		}
		json_t *page = json_object_get(ans, "page");
		json_t *events = json_object_get(page, "events");
		if (strcmp(ab_proto_type(ans), "audit_query") != 0 || !json_is_array(events)) {
			const char *msg = json_string_value(json_object_get(ans, "msg"));
			fprintf(stderr, "argoboxctl: audit query: %s\n",
			        msg ? msg : "unexpected answer");
			rc = exit_of(ans) == EXIT_OK ? EXIT_FAILED : exit_of(ans);
			json_decref(ans);
			break;
		}
		size_t i;
		json_t *r;
		json_array_foreach(events, i, r)
		{
			if (as_json) {
				_cleanup_free_ char *line =
				    json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
				printf("%s\n  %s", n ? "," : "", line ? line : "null");
			} else {
				print_row(r);
			}
			n++;
		}
		const char *next = json_string_value(json_object_get(page, "next_cursor"));
		if (!next || json_array_size(events) == 0) {
			json_decref(ans);
			break;
		}
		json_object_set_new(params, "cursor", json_string(next));
		json_decref(ans);
	}
	if (as_json)
		printf("%s]\n", n ? "\n" : "");
	return rc;
}

static int
audit_query(int argc, char **argv, const char *sock, bool as_json)
{
	const char *data_dir = NULL, *db = NULL;
	struct auditdb_query q = {.outcome = -1, .limit = 100};
	_cleanup_(json_decrefp) json_t *params = json_object();
	for (int i = 0; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return ab_usage(usage, false);
		const char *a = argv[i++];
		if (strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0) {
			int64_t *t = strcmp(a, "--from") == 0 ? &q.from_ms : &q.to_ms;
			if (parse_time(v, t) < 0) {
				fprintf(stderr,
				        "argoboxctl: %s: '%s' is not a time (RFC 3339, a date, "
				        "or ms since the epoch)\n",
				        a, v);
				return EXIT_USAGE;
			}
			char ms[24];
			snprintf(ms, sizeof(ms), "%lld", (long long)*t);
			json_object_set_new(params, a + 2, json_string(ms));
		} else if (strcmp(a, "--user") == 0) {
			q.user = v;
			json_object_set_new(params, "user", json_string(v));
		} else if (strcmp(a, "--event") == 0) {
			q.event_prefix = v;
			json_object_set_new(params, "event", json_string(v));
		} else if (strcmp(a, "--text") == 0) {
			q.text = v;
			json_object_set_new(params, "q", json_string(v));
		} else if (strcmp(a, "--outcome") == 0) {
			if ((q.outcome = audit_outcome_from_name(v)) < 0) {
				fprintf(stderr,
				        "argoboxctl: --outcome: grant, deny, info or failure\n");
				return EXIT_USAGE;
			}
			json_object_set_new(params, "outcome", json_string(v));
		} else if (strcmp(a, "--limit") == 0) {
			char *end;
			long l = strtol(v, &end, 10);
			if (*end || l < 1 || l > 100000) {
				fprintf(stderr, "argoboxctl: --limit: 1 to 100000\n");
				return EXIT_USAGE;
			}
			q.limit = (unsigned)l;
		} else if (strcmp(a, "--data-dir") == 0) {
			data_dir = v;
		} else if (strcmp(a, "--db") == 0) {
			db = v;
		} else if (strcmp(a, "--socket") == 0) {
			sock = v;
		} else {
			return ab_usage(usage, false);
		}
	}
	if (q.from_ms && !q.to_ms)
		q.to_ms = INT64_MAX / 2;
	if (q.to_ms && q.from_ms >= q.to_ms) {
		fprintf(stderr, "argoboxctl: --from must be before --to\n");
		return EXIT_USAGE;
	}
	if (data_dir || db)
		return audit_query_offline(&q, data_dir, db, as_json);
	return audit_query_broker(sock, params, q.limit, as_json);
}

/* services list|reload|status|check|restart|diag */
static int
services_cmd(const char *sock, int argc, char **argv, bool as_json)
{
	if (argc == 2 && (strcmp(argv[0], "diag") == 0 || strcmp(argv[0], "check") == 0))
		return services_diag(sock, argv[1], as_json);
	json_t *req;
	if (argc == 1 && (strcmp(argv[0], "list") == 0 || strcmp(argv[0], "reload") == 0)) {
		char type[32];
		snprintf(type, sizeof(type), "services_%s", argv[0]);
		req = ab_proto_msg(type, NULL);
	} else if (argc == 2 &&
	           (strcmp(argv[0], "status") == 0 || strcmp(argv[0], "restart") == 0)) {
		char type[32];
		snprintf(type, sizeof(type), "services_%s", argv[0]);
		req = ab_proto_msg(type, json_pack("{ss}", "name", argv[1]));
	} else {
		return ab_usage(usage, false);
	}
	json_t *ans = NULL;
	if (request(sock, req, &ans) < 0)
		return EXIT_FAILED;
	int rc = exit_of(ans);
	if (rc)
		rc = print_error("services", ans, as_json);
	else if (as_json)
		print_json(ans);
	else
		services_print(argv[0], argc > 1 ? argv[1] : NULL, ans);
	json_decref(ans);
	return rc;
}

/*
 * exec USER [--] CMD...: the broker names the desktop's container (and audits it), then this
 * process (root) enters it (nsexec.h) and runs CMD; its exit status is the command's. Before
 * the command runs: 3 no ready desktop, 4 refused (not root, not a container), 125 entering
 * failed, 2 usage.
 */
static int
exec_cmd(const char *sock, int argc, char **argv, bool as_json)
{
	if (argc >= 2 && strcmp(argv[1], "--") == 0) {
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	if (argc < 2 || argv[0][0] == '-')
		return ab_usage(usage, false);
	if (geteuid() != 0) {
		fprintf(stderr, "argoboxctl: exec: only root can enter a desktop container\n");
		return EXIT_REFUSED;
	}
	json_t *args = json_array();
	for (int i = 1; i < argc; i++)
		json_array_append_new(args, json_string(argv[i]));
	json_t *ans = NULL;
	if (request(sock, ab_proto_msg("exec", json_pack("{ssso}", "user", argv[0], "argv", args)),
	            &ans) < 0)
		return EXIT_FAILED;
	int rc = exit_of(ans);
	if (rc) {
		rc = print_error("exec", ans, as_json);
		json_decref(ans);
		return rc;
	}
	pid_t pid = (pid_t)json_integer_value(json_object_get(ans, "pid"));
	unsigned long long start =
	    (unsigned long long)json_integer_value(json_object_get(ans, "starttime"));
	json_decref(ans);
	struct ab_err err = {0};
	int status = 0;
	if (nsexec_run(pid, start, argv + 1, &status, &err) < 0) {
		fprintf(stderr, "argoboxctl: exec: %s\n", err.msg);
		status = 125;
	}
	ans = NULL;
	if (request(
	        sock,
	        ab_proto_msg("exec_done", json_pack("{sssi}", "user", argv[0], "status", status)),
	        &ans) == 0)
		json_decref(ans);
	return status;
}

/* A password from stdin (its first line; prompted without echo on a terminal). */
static char *
read_password(const char *prompt)
{
	struct termios saved, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (tty) {
		fprintf(stderr, "%s", prompt);
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		fputc('\n', stderr);
	}
	if (n <= 0) {
		free(line);
		return NULL;
	}
	line[strcspn(line, "\r\n")] = '\0';
	return line;
}

static void
users_print(json_t *res)
{
	printf("%-16s %-8s %-14s %-9s %s\n", "NAME", "ROLE", "PROFILE", "STATE", "EMAIL");
	size_t k;
	json_t *u;
	json_array_foreach(json_object_get(res, "users"), k, u)
	{
		const char *email = json_string_value(json_object_get(u, "email"));
		printf("%-16s %-8s %-14s %-9s %s\n", json_string_value(json_object_get(u, "name")),
		       json_string_value(json_object_get(u, "role")),
		       json_string_value(json_object_get(u, "profile")) ?: "-",
		       json_is_true(json_object_get(u, "disabled")) ? "disabled" : "enabled",
		       email ? email : "-");
	}
}

/*
 * users list | add NAME --role R --profile P [--email E] | disable|enable|unlock|vnc-reset NAME
 * | passwd NAME | role NAME ROLE | profile NAME PROFILE | delete NAME --home keep|remove.
 * Passwords are read from stdin (never the command line, which other users can see).
 */
static int
users_cmd(const char *sock, int argc, char **argv, bool as_json)
{
	if (argc < 1)
		return ab_usage(usage, false);
	const char *sub = argv[0], *name = argc > 1 ? argv[1] : NULL;
	const char *action = sub;
	json_t *body = json_object();
	int rc = EXIT_OK;
	if (strcmp(sub, "list") == 0 && argc == 1) {
		name = NULL;
	} else if (!name || name[0] == '-') {
		rc = EXIT_USAGE;
	} else if ((strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0 ||
	            strcmp(sub, "unlock") == 0 || strcmp(sub, "vnc-reset") == 0) &&
	           argc == 2) {
	} else if ((strcmp(sub, "role") == 0 || strcmp(sub, "profile") == 0) && argc == 3) {
		json_object_set_new(body, sub, json_string(argv[2]));
	} else if (strcmp(sub, "delete") == 0 && argc == 4 && strcmp(argv[2], "--home") == 0) {
		json_object_set_new(body, "home", json_string(argv[3]));
	} else if (strcmp(sub, "passwd") == 0 && argc == 2) {
		action = "password";
	} else if (strcmp(sub, "add") == 0) {
		json_object_set_new(body, "name", json_string(name));
		for (int i = 2; i < argc && rc == EXIT_OK; i += 2) {
			if (i + 1 >= argc ||
			    (strcmp(argv[i], "--role") != 0 && strcmp(argv[i], "--profile") != 0 &&
			     strcmp(argv[i], "--email") != 0))
				rc = EXIT_USAGE;
			else
				json_object_set_new(body, argv[i] + 2, json_string(argv[i + 1]));
		}
	} else {
		rc = EXIT_USAGE;
	}
	if (rc == EXIT_OK && (strcmp(action, "password") == 0 || strcmp(action, "add") == 0)) {
		char *pw = read_password("New password: ");
		if (!pw) {
			fprintf(stderr, "argoboxctl: users %s: no password on stdin\n", sub);
			rc = EXIT_USAGE;
		} else {
			json_object_set_new(body, "password", json_string(pw));
			explicit_bzero(pw, strlen(pw));
			free(pw);
		}
	}
	if (rc != EXIT_OK) {
		json_decref(body);
		return rc == EXIT_USAGE ? ab_usage(usage, false) : rc;
	}
	json_t *req = ab_proto_msg("users", json_pack("{ssso}", "action", action, "body", body));
	if (name && strcmp(action, "add") != 0)
		json_object_set_new(req, "name", json_string(name));
	json_t *ans = NULL;
	if (request(sock, req, &ans) < 0)
		return EXIT_FAILED;
	rc = exit_of(ans);
	if (rc)
		rc = print_error("users", ans, as_json);
	else if (as_json)
		print_json(json_object_get(ans, "result"));
	else if (strcmp(action, "list") == 0)
		users_print(json_object_get(ans, "result"));
	else
		printf("%s: %s done\n", name, sub);
	json_decref(ans);
	return rc;
}

static int
status_cmd(const char *sock, bool as_json)
{
	json_t *ans = NULL;
	if (request(sock, ab_proto_msg("status", NULL), &ans) < 0)
		return EXIT_FAILED;
	int rc = exit_of(ans);
	if (rc) {
		rc = print_error("status", ans, as_json);
	} else if (as_json) {
		print_json(ans);
	} else {
		const char *k;
		json_t *v;
		json_object_foreach(ans, k, v)
		{
			if (strcmp(k, "v") == 0 || strcmp(k, "type") == 0)
				continue;
			printf("%-18s %lld\n", k, (long long)json_integer_value(v));
		}
	}
	json_decref(ans);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *sock = NULL;
	bool as_json = false;
	/* --json anywhere before "--" (exec's command is left alone) */
	int n = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[n++] = argv[i++];
			break;
		}
		if (i > 0 && strcmp(argv[i], "--json") == 0)
			as_json = true;
		else
			argv[n++] = argv[i];
	}
	argc = n;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			sock = argv[++i];
		else
			return ab_usage(usage, strcmp(argv[i], "--help") == 0 ||
			                           strcmp(argv[i], "-h") == 0);
	}
	if (i >= argc)
		return ab_usage(usage, false);
	const char *cmd = argv[i];
	int rest = argc - i - 1;
	char **rv = argv + i + 1;
	if (strcmp(cmd, "help") == 0)
		return ab_usage(usage, true);
	if (strcmp(cmd, "audit") == 0) {
		if (rest >= 1 && strcmp(rv[0], "query") == 0)
			return audit_query(rest - 1, rv + 1, sock, as_json);
		return audit_main(rest, rv, sock);
	}
	_cleanup_free_ char *def = default_socket();
	if (!sock)
		sock = def;
	if (strcmp(cmd, "status") == 0 && rest == 0)
		return status_cmd(sock, as_json);
	if (strcmp(cmd, "list") == 0)
		return desktops_cmd(sock, argc - i, argv + i, as_json);
	if (strcmp(cmd, "stop") == 0 && rest == 1)
		return desktops_cmd(sock, argc - i, argv + i, as_json);
	if (strcmp(cmd, "desktops") == 0)
		return desktops_cmd(sock, rest, rv, as_json);
	if (strcmp(cmd, "state") == 0)
		return state_cmd(sock, rest, rv, as_json);
	if (strcmp(cmd, "broadcast") == 0)
		return broadcast_cmd(sock, rest, rv, as_json);
	if (strcmp(cmd, "services") == 0)
		return services_cmd(sock, rest, rv, as_json);
	if (strcmp(cmd, "exec") == 0)
		return exec_cmd(sock, rest, rv, as_json);
	if (strcmp(cmd, "users") == 0)
		return users_cmd(sock, rest, rv, as_json);
	return ab_usage(usage, false);
}
