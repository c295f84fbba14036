#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# admin console benchmark (docs/admin.md "Bench"): the dashboard with 11 and with 51 real
# desktops (the admin's and 10 / 50 members', process launcher with the fake session) in
# Chromium: render time from navigation to the full table, and the page's idle CPU while its
# live channel keeps it current. Targets: render <= 300 ms, idle < 1 % of a core.
# Usage: bench/admin_bench.sh [--quick]     (AB_BUILD_DIR picks the build, default build/)
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
need_built "$B/broker/argobox-broker"
[ -x /usr/bin/chromium ] || [ -n "${AB_CHROMIUM:-}" ] || skip "Chromium is not installed (deps/debian/test.txt)"
[ -d "$S/tests/e2e/node_modules/playwright-core" ] || skip "playwright-core is not installed in tests/e2e (./argobox deps test)"
AB_BUILD_DIR=$B AB_SOURCE_DIR=$S exec node "$S/bench/admin_bench.mjs" "$@"
