#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The services area's poll cycle (broker/services/, docs/services.md): 23 real services on
# loopback (tests/integration/services/peers.py: 10 healthy, 2 slow (200 ms), 2 flapping, a 500,
# TLS, TCP-only, an endless body, and 5 that never answer, checked with a 250 ms timeout), then
# the same peers registered 10 times over (230 services). ab-services-bench runs the cycles on
# an ab_loop as the broker does and measures the loop's lateness (a 1 ms timer) idle and during
# the cycles. A cycle must be bounded by the longest timeout, not the sum of them, and the loop
# must stay within 1 ms of its idle lateness (p99): the broker runs the checks' transfers on
# httpc's own thread ("thread"); "loop" runs them on the measured loop, as before, for
# comparison. The two are interleaved in one run.
#
#   bench/services_bench.sh [BUILD_DIR] [CYCLES]     (default build-svc-rel or build, 20)
set -uo pipefail
S=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-}
[ -n "$B" ] || for d in build-svc-rel build; do [ -x "$S/$d/bench/ab-services-bench" ] && B=$S/$d && break; done
bin=$B/bench/ab-services-bench
[ -x "$bin" ] || { echo "ab-services-bench is not built (cmake --build BUILD --target ab-services-bench)"; exit 1; }
cycles=${2:-20}
T=$(mktemp -d /tmp/ab-svcbench.XXXXXX)
PEERS=
trap '[ -n "$PEERS" ] && kill $PEERS 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
AB_SOURCE_DIR=$S
. "$S/bench/services_peers.sh"
start_service_peers "$T"
run() { "$bin" "$T/s$1.json" "$cycles" "$2" 2>>"$T/bench.log"; }
rows=()
for n in 1 10; do
	for mode in loop thread loop thread; do
		rows+=("$(run $n $mode)") || exit 1
	done
done
python3 - "$cycles" "${rows[@]}" <<'EOP'
import json, sys
cycles = sys.argv[1]
runs = [json.loads(a) for a in sys.argv[2:]]
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))]
def med(v):
    return pct(v, .5)
print(f"services poll cycle ({cycles} cycles a run, two runs of each, interleaved; 5 services never "
      "answer, timeout 250 ms; the sum of timeouts would be >= 1250 ms)")
print(f"{'services':>8} | {'transfers on':>12} | {'cycle p50 ms':>12} | {'cycle p99 ms':>12} | "
      f"{'cpu ms/cycle':>12} | {'loop lag idle p50/p99 ms':>24} | {'in cycles p50/p99/max ms':>24} | "
      f"{'p99 over idle ms (<= 1)':>23}")
print("-" * 151)
for n in (23, 230):
    for mode in ("loop", "thread"):
        rs = [r for r in runs if r["services"] == n and r["client"] == mode]
        c = [x for r in rs for x in r["cycles_ms"]]
        li = [med([r["lag_idle_ms"][k] for r in rs]) for k in range(3)]
        lb = [med([r["lag_busy_ms"][k] for r in rs]) for k in range(3)]
        cpu = med([r["cpu_ms_per_cycle"] for r in rs])
        over = lb[1] - li[1]
        print(f"{n:>8} | {mode:>12} | {pct(c, .5):>12.1f} | {pct(c, .99):>12.1f} | {cpu:>12.2f} | "
              f"{li[0]:>12.3f}/{li[1]:<11.3f} | {lb[0]:>8.3f}/{lb[1]:.3f}/{lb[2]:<8.3f} | "
              f"{over:>8.3f} {'met' if over <= 1 else 'MISSED':>14}")
EOP
