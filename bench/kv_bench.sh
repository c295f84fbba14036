#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# kv benchmark: change -> durable latency in the embedded store (p50/p99, target < 50 ms) and
# writes per minute sent to Workers KV (miniflare simulator) during continuous updates of one
# key (target <= 60). Usage: bench/kv_bench.sh [BUILD_DIR]   (KV_BENCH_SECONDS=60 by default)
set -euo pipefail
[ -z "${1:-}" ] || export AB_BUILD_DIR=$1
. "$(dirname "$(readlink -f "$0")")/lib.sh"
top=$S build=$B
tool=$build/tests/integration/kv/kv_tool
need_built "$tool"
# On the build directory's file system: /tmp is often tmpfs, where fsync costs nothing.
ab_tmpdir "$build/kv-bench"
tmp=$T
printf '{"backend":"embedded","dir":"%s/store"}\n' "$tmp" >"$tmp/kv.json"
dur=$("$tool" bench-durable "$tmp/kv.json" 1000)
rate=$(AB_BUILD_DIR=$build node "$top/tests/integration/kv/run.mjs" bench 2>/dev/null | grep '^updates=')
get() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }
printf '%-52s %12s %10s\n' "kv metric" "value" "target"
printf '%-52s %12s %10s\n' "embedded change->durable p50 (ms, 2 KiB, fsync)" "$(get durable_p50_ms "$dur")" "< 50"
printf '%-52s %12s %10s\n' "embedded change->durable p99 (ms)" "$(get durable_p99_ms "$dur")" "< 50"
printf '%-52s %12s %10s\n' "Workers KV updates to one key in ${KV_BENCH_SECONDS:-60} s" "$(get updates "$rate")" ""
printf '%-52s %12s %10s\n' "Workers KV PUTs per minute for that key" "$(get puts_per_minute "$rate")" "<= 60"
printf '%-52s %12s %10s\n' "Workers KV PUTs incl. the final flush" "$(get puts_total "$rate")" ""
