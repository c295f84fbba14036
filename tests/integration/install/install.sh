#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The install path of docs/install.md, into a temporary prefix: what goes where, the unit, the
# installed broker (its pages, noVNC, its sibling programs, the shared files it reports), the
# first-run configuration from the installed sample, and an upgrade (a second install over the
# first) that leaves the configuration and the data byte for byte as they were.
set -uo pipefail
B=${AB_BUILD_DIR:?run through ctest}
. "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_tools cmake curl python3 mkpasswd
[ -x "$B/broker/argobox-broker" ] || skip "the broker is not built"

ab_tmpdir ab-install
P=$T/prefix
at_exit '[ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null && wait "$BROKER_PID" 2>/dev/null'

cmake --install "$B" --prefix "$P" >"$T/install.log" 2>&1 || { bad "cmake --install: $(tail -5 "$T/install.log")"; exit 1; }
ok "cmake --install into $P"

for f in libexec/argobox/argobox-broker libexec/argobox/argoboxctl libexec/argobox/argobox-session \
	libexec/argobox/argobox-wm libexec/argobox/argobox-seccomp-shim libexec/argobox/first-run-config; do
	[ -x "$P/$f" ] && ok "$f" || bad "$f missing or not executable"
done
for l in sbin/argobox-broker bin/argoboxctl; do
	if [ -L "$P/$l" ] && [ -x "$P/$l" ] && [ "$(readlink -f "$P/$l")" = "$(readlink -f "$P/libexec/argobox/${l#*/}")" ]; then
		ok "$l -> $(readlink "$P/$l") (relative: $(case $(readlink "$P/$l") in /*) echo no ;; *) echo yes ;; esac))"
	else
		bad "$l is not a link to libexec/argobox"
	fi
done
S=$P/share/argobox
for f in web/index.html web/desktop.html web/node_modules/@novnc/novnc/core/rfb.js \
	web/node_modules/@novnc/novnc/LICENSE.txt assets/applications/xterm.desktop \
	containers/seccomp/default.json containers/apparmor/argobox-member argobox.sample.json; do
	[ -f "$S/$f" ] && ok "share/argobox/$f" || bad "share/argobox/$f missing"
done
[ -e "$S/web/node_modules/@novnc/novnc/docs" ] && bad "noVNC's docs installed (only core/ belongs)" || ok "only noVNC's core/ installed"
[ -e "$S/web/package-lock.json" ] && bad "web/package-lock.json installed" || ok "no npm metadata in the web root"

unit=$P/lib/systemd/system/argobox-broker.service
if [ -f "$unit" ]; then
	grep -q "^ExecStart=$P/libexec/argobox/argobox-broker --config /etc/argobox/argobox.json --web-root $S/web$" "$unit" &&
		ok "unit: ExecStart names the installed broker and web root" || bad "unit ExecStart: $(grep ^ExecStart= "$unit")"
	grep -q '^KillMode=process$' "$unit" && ok "unit: KillMode=process (desktops outlive a restart)" || bad "unit: KillMode"
	grep -q '^ProtectSystem=strict$' "$unit" && grep -q '^NoNewPrivileges=yes$' "$unit" &&
		ok "unit: hardened (ProtectSystem=strict, NoNewPrivileges)" || bad "unit: hardening options missing"
	grep -q '@[A-Z_]*@' "$unit" && bad "unit has unreplaced @VARS@: $(grep -o '@[A-Z_]*@' "$unit" | sort -u | tr '\n' ' ')" || ok "unit: every @VAR@ replaced"
	if command -v systemd-analyze >/dev/null; then
		# verify needs every ExecStart binary to exist; it does, under the prefix
		if systemd-analyze verify "$unit" >"$T/verify.log" 2>&1; then
			ok "systemd-analyze verify: clean"
		else
			grep -v -e 'Failed to.*bus' -e 'Cannot.*systemd' "$T/verify.log" | grep -q . &&
				bad "systemd-analyze verify: $(cat "$T/verify.log")" ||
				ok "systemd-analyze verify: only 'no running systemd' complaints"
		fi
	else
		echo "skip systemd-analyze verify: systemd-analyze is not installed"
	fi
else
	bad "unit not installed at $unit"
fi

# The installed first-run-config finds the installed sample.
mkdir -m 0700 "$T/etc"
if "$P/libexec/argobox/first-run-config" "$T/etc/argobox.json" "$T/etc/admin-password" >"$T/frc.log" 2>&1; then
	ok "installed first-run-config wrote a configuration"
	[ "$(stat -c %a "$T/etc/argobox.json")" = 600 ] && ok "configuration is 0600" || bad "configuration mode $(stat -c %a "$T/etc/argobox.json")"
else
	bad "installed first-run-config: $(cat "$T/frc.log")"
fi
"$P/sbin/argobox-broker" --config "$T/etc/argobox.json" --check-config >"$T/check.log" 2>&1 &&
	ok "installed broker: --check-config passes on it" || bad "--check-config: $(cat "$T/check.log")"

# The installed broker on a loopback port, with a data dir and runtime base of the test's own
# and the process launcher (no containers needed to see the install work).
python3 - "$T/etc/argobox.json" "$T" <<'PY'
import json, sys
p, t = sys.argv[1], sys.argv[2]
c = json.load(open(p))
c["listen"] = {"address": "127.0.0.1", "port": 0}
c["data"] = {"dir": t + "/data"}
c["session"] = {"runtime_base": t + "/run", "launcher": "process"}
c["admin"] = {"socket": t + "/broker.sock"}
c["audit"] = {"path": t + "/audit.log"}
json.dump(c, open(p, "w"), indent=1)
PY
"$P/sbin/argobox-broker" --config "$T/etc/argobox.json" --web-root "$S/web" >"$T/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 200); do grep -q "listening on http" "$T/broker.log" && break; sleep 0.05; done
PORT=$(sed -n 's|.*listening on https\?://[^:]*:\([0-9]*\)/.*|\1|p' "$T/broker.log" | tail -n1)
if [ -n "$PORT" ]; then
	URL=http://127.0.0.1:$PORT
	code=$(curl -s -o "$T/index" -w '%{http_code}' "$URL/")
	[ "$code" = 200 ] && cmp -s "$T/index" "$S/web/index.html" && ok "GET / serves the installed landing page" || bad "GET /: $code"
	code=$(curl -s -o "$T/rfb.js" -w '%{http_code}' "$URL/vendor/novnc/core/rfb.js")
	[ "$code" = 200 ] && cmp -s "$T/rfb.js" "$S/web/node_modules/@novnc/novnc/core/rfb.js" && ok "noVNC's core served from the install" || bad "GET /vendor/novnc/core/rfb.js: $code"
	code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")
	[ "$code" = 200 ] && ok "/healthz 200" || bad "/healthz: $code"
	grep -q "session: $P/libexec/argobox/argobox-session" "$T/broker.log" &&
		ok "the installed broker found the installed argobox-session" || bad "session binary: $(grep -i 'session' "$T/broker.log" | head -3)"
	grep -q "shared files: $S (installed)" "$T/broker.log" &&
		ok "the installed broker reports its shared files at $S" || bad "shared files: $(grep -i 'shared files' "$T/broker.log")"
	"$P/bin/argoboxctl" --socket "$T/broker.sock" status >"$T/ctl.log" 2>&1 && ok "installed argoboxctl talks to it" || bad "argoboxctl: $(cat "$T/ctl.log")"
	kill "$BROKER_PID"
	wait "$BROKER_PID" 2>/dev/null
	BROKER_PID=
else
	bad "installed broker did not start: $(tail -5 "$T/broker.log")"
fi

# Upgrade: install again over the first; the configuration and the data stay as they were.
mkdir -p "$T/data" && echo keep >"$T/data/marker"
before=$(cd "$T" && find etc data -type f -exec sha256sum {} + | sort)
touch -d '2000-01-01' "$P/libexec/argobox/argobox-broker"
cmake --install "$B" --prefix "$P" >"$T/install2.log" 2>&1 && ok "second install (upgrade) over the first" || bad "upgrade install: $(tail -3 "$T/install2.log")"
after=$(cd "$T" && find etc data -type f -exec sha256sum {} + | sort)
[ "$before" = "$after" ] && ok "upgrade left the configuration and the data untouched" || bad "upgrade changed config/data"
[ "$(stat -c %Y "$P/libexec/argobox/argobox-broker")" != "$(date -d 2000-01-01 +%s)" ] && ok "upgrade replaced the programs" || bad "upgrade did not replace the broker"

[ "$fails" = 0 ] && echo "install: all checks passed" || echo "install: $fails check(s) failed"
exit $((fails > 0))
