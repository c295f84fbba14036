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
skip() {
	echo "${0##*/}: $*" >&2
	exit 1
}
