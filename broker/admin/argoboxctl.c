/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * argoboxctl: a tiny admin console for a running argobox-broker, over its
 * admin socket (broker/admin/admin_socket.h).
 *
 *   argoboxctl [--socket PATH] [--json] status | list | stop USER
 *              | services list | services reload | services status NAME
 *              | services restart NAME | services diag NAME
 *
 *   argoboxctl audit verify [--data-dir DIR] [--db FILE] [--key FILE]
 *   argoboxctl [--socket PATH] audit report --from TIME --to TIME [--user USER]
 *              [--format json|csv|html] [--limit N] [--output FILE]
 *
 * `audit verify` reads the audit store's database directly (broker running or not) and
 * checks its hash chain against the signed head, daily anchors and prune point with the
 * public key (<data.dir>/audit/signing.key.pub): it names every record that was edited,
 * deleted, reordered or cut off, and exits 1 when it found any (2 when it could not check).
 * `audit report` asks the broker (admin socket) for the compliance report of [from, to)
 * (RFC 3339, a date, or ms since the epoch) and prints it as JSON, CSV or a printable HTML
 * page (broker/audit/auditreport.h renders it here); it exits 1 when the broker refused.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ab_proto.h"
#include "ab_sock.h"
#include "ab_util.h"
#include "auditdb.h"
#include "auditreport.h"
#include "broker_config.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: argoboxctl [--socket PATH] [--json] status | list | stop USER\n"
	           "                  | services list | services reload | services status NAME\n"
	           "                  | services restart NAME | services diag NAME\n"
	           "       argoboxctl audit verify [--data-dir DIR] [--db FILE] [--key FILE]\n"
	           "       argoboxctl [--socket PATH] audit report --from TIME --to TIME "
	           "[--user USER]\n"
	           "                  [--format json|csv|html] [--limit N] [--output FILE]\n");
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

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "audit") == 0)
		return audit_main(argc - 2, argv + 2, NULL);
	const char *sock = NULL;
	bool as_json = false;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
			sock = argv[++i];
		} else if (strcmp(argv[i], "--json") == 0) {
			as_json = true;
		} else {
			return ab_usage(usage, strcmp(argv[i], "--help") == 0);
		}
	}
	if (i >= argc)
		return ab_usage(usage, false);
	const char *cmd = argv[i];
	if (strcmp(cmd, "audit") == 0)
		return audit_main(argc - i - 1, argv + i + 1, sock);
	json_t *req;
	_cleanup_free_ char *def = default_socket();
	if (strcmp(cmd, "services") == 0 && i + 3 == argc && strcmp(argv[i + 1], "diag") == 0)
		return services_diag(sock ? sock : def, argv[i + 2], as_json);
	if ((strcmp(cmd, "status") == 0 || strcmp(cmd, "list") == 0) && i + 1 == argc) {
		req = ab_proto_msg(cmd, NULL);
	} else if (strcmp(cmd, "stop") == 0 && i + 2 == argc) {
		req = ab_proto_msg("stop", json_pack("{ss}", "user", argv[i + 1]));
	} else if (strcmp(cmd, "services") == 0 && i + 2 == argc &&
	           (strcmp(argv[i + 1], "list") == 0 || strcmp(argv[i + 1], "reload") == 0)) {
		char type[32];
		snprintf(type, sizeof(type), "services_%s", argv[i + 1]);
		req = ab_proto_msg(type, NULL);
	} else if (strcmp(cmd, "services") == 0 && i + 3 == argc &&
	           (strcmp(argv[i + 1], "status") == 0 || strcmp(argv[i + 1], "restart") == 0)) {
		char type[32];
		snprintf(type, sizeof(type), "services_%s", argv[i + 1]);
		req = ab_proto_msg(type, json_pack("{ss}", "name", argv[i + 2]));
	} else {
		return ab_usage(usage, false);
	}
	json_t *ans = NULL;
	if (request(sock ? sock : def, req, &ans) < 0)
		return 1;
	int rc = strcmp(ab_proto_type(ans), "error") == 0 ? 1 : 0;
	if (!as_json && !rc && strcmp(cmd, "services") == 0) {
		services_print(argv[i + 1], argv[i + 2], ans);
	} else if (as_json || strcmp(cmd, "stop") == 0 || rc) {
		json_dumpf(ans, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
	} else if (strcmp(cmd, "status") == 0) {
		const char *k;
		json_t *v;
		json_object_foreach(ans, k, v)
		{
			if (strcmp(k, "v") == 0 || strcmp(k, "type") == 0)
				continue;
			printf("%-18s %lld\n", k, (long long)json_integer_value(v));
		}
	} else {
		json_t *list = json_object_get(ans, "desktops");
		printf("%-16s %-9s %8s %7s %10s %s\n", "USER", "STATE", "PID", "CLIENTS",
		       "UPTIME_S", "CONTROL");
		size_t k;
		json_t *d;
		json_array_foreach(list, k, d)
		{
			printf("%-16s %-9s %8lld %7lld %10lld %s\n",
			       json_string_value(json_object_get(d, "user")),
			       json_string_value(json_object_get(d, "state")),
			       (long long)json_integer_value(json_object_get(d, "pid")),
			       (long long)json_integer_value(json_object_get(d, "clients")),
			       (long long)json_integer_value(json_object_get(d, "uptime_ms")) /
			           1000,
			       json_is_true(json_object_get(d, "control")) ? "up" : "-");
		}
	}
	json_decref(ans);
	return rc;
}
