#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every AppArmor profile in containers/apparmor/ parses (apparmor_parser -Q: no kernel needed),
# one exists per role, and the parser really rejects a broken profile (negative control).
set -uo pipefail
top=${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
command -v apparmor_parser >/dev/null || { echo "SKIP: apparmor_parser is not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for role in admin member demo; do
	f=$top/containers/apparmor/argobox-$role
	if [ ! -f "$f" ]; then
		echo "FAIL no profile for role $role"
		fail=1
	elif apparmor_parser -Q -K "$f" 2>"$tmp/err"; then
		echo "ok   argobox-$role parses"
	else
		echo "FAIL argobox-$role: $(grep -v 'Cache read/write' "$tmp/err")"
		fail=1
	fi
	grep -q 'deny mount' "$f" && grep -q 'deny ptrace' "$f" && grep -q 'deny /sys/\*\* w' "$f" ||
		{ echo "FAIL argobox-$role lacks the mount/ptrace//sys denials"; fail=1; }
done
printf 'profile broken {\n  not a rule,\n}\n' >"$tmp/broken"
if apparmor_parser -Q -K "$tmp/broken" 2>/dev/null; then
	echo "FAIL the parser accepted a broken profile: the check above proves nothing"
	fail=1
else
	echo "ok   a broken profile is rejected"
fi
if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; then
	echo "# this kernel has AppArmor: bundles carry process.apparmorProfile"
else
	echo "# this kernel has no AppArmor: profiles validated only, not applied"
fi
exit $fail
