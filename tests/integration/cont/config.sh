#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The broker's container settings are validated up front (--check-config): session.launcher,
# the runtime and netpol subtrees; every error names the JSON path. No root needed.
set -uo pipefail
B=${AB_BUILD_DIR:?run through ctest}
broker=$B/broker/argobox-broker
[ -x "$broker" ] || { echo "SKIP: $broker is not built"; exit 77; }
T=$(mktemp -d /tmp/ab-contcfg.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok   $*"; }
bad() {
	echo "FAIL $*"
	fails=$((fails + 1))
}
check() { # check NAME JSON EXPECTED-SUBSTRING (empty: must be accepted)
	echo "$2" >"$T/c.json"
	local out rc=0
	out=$("$broker" --config "$T/c.json" --check-config 2>&1) || rc=$?
	if [ -z "$3" ]; then
		[ $rc = 0 ] && ok "$1: accepted" || bad "$1: rejected: $out"
	elif [ $rc != 0 ] && grep -qF -- "$3" <<<"$out"; then
		ok "$1: rejected ($out)"
	else
		bad "$1: rc=$rc, wanted '$3' in: $out"
	fi
}
check "defaults" '{}' ""
check "every setting" '{"session": {"launcher": "process"}, "storage": {"home_base": "/srv/h"},
  "runtime": {"runtime": "crun", "bundle_root": "/b", "id_prefix": "x-", "ready_timeout_ms": 5000,
              "host_id_base": 200000, "cgroup_parent": "ab", "poll_interval_ms": 500},
  "netpol": {"pool": "10.99.0.0/16", "resolver": "10.0.0.53", "masquerade": false,
             "services": {"gitea": "tcp:192.168.1.10:3000"}}}' ""
check "launcher name" '{"session": {"launcher": "docker"}}' "session.launcher"
check "runtime name" '{"runtime": {"runtime": "podman"}}' "runtime"
check "unknown runtime key" '{"runtime": {"bundles": "/x"}}' "bundles"
check "runtime timeout range" '{"runtime": {"ready_timeout_ms": 1}}' "ready_timeout_ms"
check "pool syntax" '{"netpol": {"pool": "10.88.0.0/33"}}' "netpol.pool"
check "pool too small" '{"netpol": {"pool": "10.88.0.0/30"}}' "netpol.pool"
check "resolver" '{"netpol": {"resolver": "dns.example"}}' "netpol.resolver"
check "service address" '{"netpol": {"services": {"gitea": "tcp:gitea:3000"}}}' "netpol.services.gitea"
check "services type" '{"netpol": {"services": ["tcp:1.2.3.4:5"]}}' "netpol: 'services'"
echo "cont config: $fails failure(s)"
exit $((fails > 0))
