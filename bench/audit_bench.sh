#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# audit benchmark (issue 19): sustained ingest (events/s, target 2 000) and the loop's latency
# while it ingests, a flat-out burst, query latency at 1 M events by user + time range
# (target <= 50 ms), the compliance report (one user's day, everyone's day; it runs on the
# broker's loop within audit.query.budget_ms), `audit verify` over 1 M records, bytes per event.
#   bench/audit_bench.sh [--quick] [BUILD_DIR]
#   (AUDIT_BENCH_EVENTS=1000000, AUDIT_BENCH_SECONDS=10; --quick: 100 000 and 3)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = --quick ]; then
	: "${AUDIT_BENCH_EVENTS:=100000}" "${AUDIT_BENCH_SECONDS:=3}"
	shift
fi
build=${1:-${AB_BUILD_DIR:-$top/build}}
tool=$build/bench/ab-auditbench
[ -x "$tool" ] || { echo "ab-auditbench not built in $build" >&2; exit 1; }
# On the build directory's file system: /tmp is often tmpfs, where fsync costs nothing.
tmp=$(mktemp -d "$build/audit-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
out=$("$tool" "$tmp" --events "${AUDIT_BENCH_EVENTS:-1000000}" --seconds "${AUDIT_BENCH_SECONDS:-10}" \
	--rate 2000 2>/dev/null)
get() { awk -v k="$1" '$1 == k { print $2 }' <<<"$out"; }
n=$(get fill_events)
row() { printf '| %-58s | %12s | %10s |\n' "$1" "$2" "$3"; }
printf '| %-58s | %12s | %10s |\n' "audit metric" "value" "target"
printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..60})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..12})"
row "sustained ingest: logged events/s (JSON line + store queue)" "$(get sustained_sent_per_s)" ">= 2000"
row "sustained ingest: stored events/s" "$(get sustained_stored_per_s)" ">= 2000"
row "sustained ingest: dropped" "$(get sustained_dropped)" "0"
row "loop latency while ingesting, p50 (ms, 10 ms timer)" "$(get loop_late_p50_ms)" ""
row "loop latency while ingesting, p99 (ms)" "$(get loop_late_p99_ms)" ""
row "loop latency while ingesting, max (ms)" "$(get loop_late_max_ms)" ""
row "slowest commit on the writer thread (ms)" "$(get max_commit_ms)" ""
row "burst: audit_log() calls/s, loop flat out" "$(get burst_logged_per_s)" ""
row "burst: stored events/s" "$(get burst_stored_per_s)" ""
row "fill: $n events over 29 days, stored events/s" "$(get fill_per_s)" ""
row "query by user + 1-day range at $n events, p50 (ms)" "$(get query_1d_p50_ms)" "<= 50"
row "query by user + 1-day range, p99 (ms)" "$(get query_1d_p99_ms)" "<= 50"
row "query by user + 7-day range (first 100), p50 (ms)" "$(get query_7d_p50_ms)" "<= 50"
row "query by user + 7-day range (first 100), p99 (ms)" "$(get query_7d_p99_ms)" "<= 50"
row "compliance report, one user, 1 day at $n events: p50 (ms)" "$(get report_user_p50_ms)" ""
row "compliance report, one user, 1 day: max (ms)" "$(get report_user_max_ms)" ""
row "compliance report, everyone, 1 day (~34 000 events): p50 (ms)" "$(get report_all_p50_ms)" ""
row "compliance report, everyone, 1 day: max (ms)" "$(get report_all_max_ms)" ""
row "verify $(get verify_records) records (s), $(get verify_result)" "$(get verify_s)" ""
row "bytes per event (database with its 4 indexes)" "$(get bytes_per_event)" ""
