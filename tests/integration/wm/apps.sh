#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Allowed apps by profile app name: ARGOBOX_APPS lists profile apps ("terminal,editor"),
# the wm's own assets/applications entries name the app they provide (X-ArgoBox-App) and are
# found without XDG_DATA_DIRS pointing at them; apps not listed are not offered or started.
. "$(dirname "$0")/lib.sh"
start_x 1024x768
export XDG_DATA_DIRS=$T/empty
# ArgoBox's apps on the PATH, as in a desktop: their entries' TryExec finds them
export PATH=$AB_BUILD_DIR/apps/bin:$PATH
ARGOBOX_APPS=terminal,editor start_wm
wait_for 10 grep -q "apps in the launcher" "$T/wm.log" || fail "no launcher line"
# terminal: argobox-terminal.desktop and xterm.desktop (its fallback); editor: argobox-editor
grep -q "3 apps in the launcher" "$T/wm.log" || fail "terminal+editor: $(grep 'apps in the launcher' "$T/wm.log")"
stop_wm
ARGOBOX_APPS=audit start_wm # a profile app no entry provides (files, monitor, ... have apps now)
wait_for 10 grep -q "apps in the launcher" "$T/wm.log" || fail "no launcher line"
grep -q "0 apps in the launcher" "$T/wm.log" || fail "audit (no entry): $(grep 'apps in the launcher' "$T/wm.log")"
# a saved terminal window is not relaunched when the profile does not allow terminals
cat >"$T/st.json" <<EOT
{"version":1,"windows":[{"app":{"class":"XTerm","instance":"xterm","desktop_id":"xterm.desktop"},
 "title":"t","workspace":0,"x":10,"y":40,"w":300,"h":200,"stack":0}]}
EOT
stop_wm
ARGOBOX_APPS=monitor start_wm --restore "$T/st.json"
# the log says what was dropped and why, and does not count it as placed (issue 13)
wait_for 10 grep -q "restore: placed 0 of 1 windows in [0-9]* ms (1 dropped: no allowed app" "$T/wm.log" ||
	fail "restore did not end (or miscounted): $(grep 'restore: placed' "$T/wm.log")"
grep -q "restore: dropped 't' (XTerm, xterm.desktop): no allowed .desktop entry starts it" "$T/wm.log" ||
	fail "disallowed app not refused"
! xwininfo -root -tree | grep -q '"XTerm"' || fail "a disallowed xterm was started"
stop_wm
ARGOBOX_APPS=terminal start_wm --restore "$T/st.json"
wait_for 20 grep -q "restore: placed 1 of 1 windows" "$T/wm.log" || fail "allowed terminal not restored"
wait_for 10 sh -c "xwininfo -root -tree | grep -q '\"XTerm\"'" || fail "xterm not started"
wm_alive
echo PASS
