# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The shell benchmarks' helpers, sourced by bench/*_bench.sh:
#   . "$(dirname "$(readlink -f "$0")")/lib.sh"
# They are tests/lib/sh/lib.sh's (need_*, wait_for, at_exit, ab_tmpdir, kill_wait, free_port,
# start_xvfb, broker_config, start_broker, ctl, oci_sandbox ...: see there), with B the build
# directory (AB_BUILD_DIR, default build/ in the source tree, as `./argobox bench` builds it)
# and S the source tree. A benchmark that lacks a binary, a tool or root cannot measure
# anything: need_* say why on stderr ("NAME: WHY") and exit 1 instead of ctest's skip (77).
AB_SOURCE_DIR=${AB_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
AB_BUILD_DIR=${AB_BUILD_DIR:-$AB_SOURCE_DIR/build}
. "$AB_SOURCE_DIR/tests/lib/sh/lib.sh"
# stats < NUMBERS: "MEDIAN P95" (nearest rank; "n/a n/a" when there are none)
stats() {
	sort -n | awk '{a[NR] = $1} END {if (!NR) {print "n/a n/a"; exit}
		m = a[int((NR + 1) / 2)]; p = a[int(NR * 0.95 + 0.999)]; if (p == "") p = a[NR]
		printf "%s %s\n", m, p}'
}
# now_us: microseconds since the epoch
now_us() { date +%s%6N; }
skip() {
	echo "${0##*/}: $*" >&2
	exit 1
}
# sample_broker_config DIR [AUTH-DEMO-JSON]: DIR/broker.json for a broker on a free loopback port
# with the sample config's accounts (auth.demo merged with AUTH-DEMO-JSON), the process launcher
# running this build's argobox-session at 1280x800 and its files (run, data, audit, admin
# socket) in DIR. The auth, demo pool and preview benchmarks use it.
sample_broker_config() {
	local demo=${2:-'{}'}
	jq --arg t "$1" --arg b "$B" --argjson demo "$demo" '{
		listen: {address: "127.0.0.1", port: 0},
		session: {launcher: "process", binary: ($b + "/session/argobox-session"),
		          runtime_base: ($t + "/run"), geometry: "1280x800"},
		admin: {socket: ($t + "/broker.sock")}, audit: {path: ($t + "/audit.log")},
		data: {dir: ($t + "/data")}, log: {level: "info"},
		auth: (.auth | .demo += $demo), users, profiles}' "$S/config/argobox.sample.json" >"$1/broker.json"
}
