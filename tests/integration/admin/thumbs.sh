#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Live thumbnails (issue 20 item 1, broker/admin/thumbs.h, docs/control-channel.md "thumb"):
# a real broker with two real desktops (argobox-session + Xvfb + argobox-wm). The admin's
# GET /api/admin/desktops/bea/thumbnail is a JPEG that decodes (ImageMagick) to 240 x 150
# (bea's 1280x800 screen) with real content (the window manager's taskbar and wallpaper: many
# colours, not one); ?width=120 is 120 wide; a second request within 2 s is the kept one; the
# member bea gets 403 and an authz deny line, an anonymous caller 401, a user without a desktop
# 404, a bad width 400, a stopped session a clear 504 (not an empty 200); the grant is audited once, not per request; the session was asked only
# when someone asked (its thumb requests counted on the metrics). No root needed.
set -uo pipefail
. "${AB_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/lib/sh/lib.sh"
need_desktop_broker openssl identify
ab_tmpdir ab-thumbs
broker_config <<EOT
$(local_users s3cret-pw ada:admin:p:1000 bea:member:p:1003)
 "profiles": {"p": {}}
EOT
start_broker "$T/broker.log"
A=$T/audit.log
for u in ada bea; do
	[ "$(login $u s3cret-pw)" = 200 ] || bad "$u cannot sign in: $(cat "$T/$u.login")"
done
for u in ada bea; do
	wait_for 40 desk_ready $u || { bad "$u's desktop: $(ctl --json list)"; exit 1; }
done
wait_for 20 sh -c "ps -o comm= --ppid $(desk_pid bea) | grep -q '^argobox-wm'" || bad "no wm for bea"
sleep 1 # the window manager draws its taskbar and wallpaper
thumbs() { curl -s "$URL/metrics" | awk -F' ' -v k="argobox_thumbnails_total{result=\"$1\"}" '$1 == k {print $2}'; }
[ -z "$(thumbs fresh)" ] && ok "no thumbnail taken while nobody asked" || bad "thumbnails before any request: $(thumbs fresh)"

# thumb USER [QUERY]: GET as ada into $T/t.jpg, headers into $T/t.h; prints the status
thumb() { N curl -s -D "$T/t.h" -o "$T/t.jpg" -w '%{http_code}' -b "$T/ada.jar" -H "Origin: $URL" "$URL/api/admin/desktops/$1/thumbnail${2:-}"; }
[ "$(thumb bea)" = 200 ] && ok "admin: 200" || { bad "thumbnail: $(cat "$T/t.jpg" | head -c 200)"; exit 1; }
grep -qi '^content-type: image/jpeg' "$T/t.h" && ok "Content-Type: image/jpeg" || bad "headers: $(cat "$T/t.h")"
read -r w h fmt <<<"$(identify -format '%w %h %m' "$T/t.jpg" 2>&1)"
[ "$w $h $fmt" = "240 150 JPEG" ] && ok "decodes: a 240 x 150 JPEG of $(stat -c %s "$T/t.jpg") bytes" || bad "identify: $w $h $fmt"
[ "$(stat -c %s "$T/t.jpg")" -lt 30000 ] && ok "a few KB" || bad "too big: $(stat -c %s "$T/t.jpg")"
colours=$(identify -format '%k' "$T/t.jpg")
[ "$colours" -gt 20 ] && ok "real content: $colours colours (not a uniform image)" || bad "uniform: $colours colours"
[ "$(thumb bea)" = 200 ] && grep -qi '^x-thumbnail-age-ms:' "$T/t.h" && ok "again within 2 s: the kept one ($(grep -i x-thumbnail-age "$T/t.h" | tr -d '\r'))" ||
	bad "no cached answer: $(cat "$T/t.h")"
[ "$(thumb bea "?width=120")" = 200 ] && [ "$(identify -format '%w %h' "$T/t.jpg")" = "120 75" ] &&
	ok "?width=120: 120 x 75" || bad "width=120: $(identify -format '%w %h' "$T/t.jpg" 2>&1)"
[ "$(thumb ada)" = 200 ] && [ "$(identify -format '%w' "$T/t.jpg")" = 240 ] && ok "ada's own desktop too" || bad "ada's thumbnail"

# a session that never answers (stopped): a clear 504 after the timeout, not an empty 200
kill -STOP "$(desk_pid bea)"
st=$(thumb bea "?width=200")
kill -CONT "$(desk_pid bea)"
[ "$st" = 504 ] && jq -e '.error | test("in time")' "$T/t.jpg" >/dev/null &&
	ok "a session that does not answer: 504 ($(cat "$T/t.jpg"))" || bad "no answer: $st $(head -c 200 "$T/t.jpg")"
thumb_ok() { [ "$(thumb bea "?width=200")" = 200 ]; }
wait_for 10 thumb_ok && ok "answers again once the session runs" || bad "no thumbnail after SIGCONT"

# refusals
[ "$(N curl -s -o "$T/resp" -w '%{http_code}' -b "$T/bea.jar" "$URL/api/admin/desktops/ada/thumbnail")" = 403 ] &&
	ok "member bea: 403" || bad "member: $(cat "$T/resp")"
wait_for 5 jq -es 'any(.[]; .event == "authz" and .outcome == "deny" and .user == "bea" and .detail.endpoint == "admin.thumbnail")' "$A" >/dev/null &&
	ok "audit: authz deny for bea on admin.thumbnail" || bad "no deny line: $(grep '"bea"' "$A" | grep authz | tail -2)"
[ "$(N curl -s -o /dev/null -w '%{http_code}' "$URL/api/admin/desktops/bea/thumbnail")" = 401 ] &&
	ok "anonymous: 401" || bad "anonymous allowed"
[ "$(thumb nobody)" = 404 ] && ok "a user without a desktop: 404" || bad "nobody: $(cat "$T/t.jpg")"
[ "$(thumb bea '?width=5')" = 400 ] && ok "?width=5: 400" || bad "width=5 accepted"
[ "$(thumb 'Bad.Name!')" = 400 ] || [ "$(thumb 'Bad.Name!')" = 404 ] && ok "a malformed name: refused" || bad "bad name"
n=$(jq -s '[.[] | select(.event == "admin.thumbnail" and .outcome == "grant" and .user == "ada" and .detail.target == "bea")] | length' "$A")
[ "$n" = 1 ] && ok "audit: admin.thumbnail grant once for ada on bea (4 requests)" || bad "grants audited $n times"
ge1() { [ "${1:-0}" -ge 1 ] 2>/dev/null; }
ge1 "$(thumbs fresh)" && ge1 "$(thumbs cached)" && ok "metrics: fresh $(thumbs fresh), cached $(thumbs cached)" ||
	bad "metrics: $(curl -s "$URL/metrics" | grep thumbnails)"
stop_broker_ok
sanitizer_check "$T/broker.log"
finish "admin thumbnails"
