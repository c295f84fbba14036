#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Per-profile desktop images (issue 16, docs/images.md), for real: containers/rootfs/image-build
# builds the demo profile's image with mmdebstrap from the Debian archive (the .debs cached in
# the test image cache's debs/, .cache/test-images of the source tree, shared by every build
# dir: tests/lib/sh/test_images.sh; so a rerun downloads nothing, and the image itself is kept
# there too: a rerun, or the release build's escape suite, finds it up to date), then a broker
# with images enabled runs desktops on it through runc.
#
#  builder: a second run leaves an up-to-date image alone; --check says so; a changed recipe
#    gets a new image; a recipe whose build fails says why and leaves the previous image in
#    service; a malformed recipe line is refused naming file:line; the image holds CJK and
#    emoji fonts, the Adwaita icon theme, exactly the recipe's .desktop entries (tagged with
#    their profile app), no setuid file, and none of ArgoBox's programs (they are bound from
#    the build).
#  broker: a member of a profile with "image": "demo" signs in; the container's /usr is the
#    image's; a first frame arrives; the window manager's launcher lists exactly the profile's
#    apps (ArgoBox's own plus mousepad and ristretto) and no host-only app (Chromium, TigerVNC,
#    x11vnc, ImageMagick, XTerm); an admin ("*") sees no host-only app either; a profile whose
#    recipe does not exist is refused with the build's message and audited; a profile on
#    "host" runs on the host's /usr with the loud warning.
#  the first build, waited for (issue 16): while a recipe's image is being built (the test holds
#    its build on the builder's lock, as another build would), two users sign in: neither is
#    refused, both desktops wait on the one build (one image.build started, image.wait audited),
#    /api/image says how far it is; in Chromium the desktop page shows "Preparing the desktop
#    image for profile ...: Step k of n ... elapsed" and then the desktop on the same websocket
#    (image-wait.mjs); both desktops are up once the build is done. A recipe whose held build
#    then fails: both users get the build's message (/api/image, the broker's log), no desktop,
#    image.use and container.start denied in the audit log for each, one image.build failure.
#
# usage: image.sh (through ctest). Root only.
set -uo pipefail
S=${AB_SOURCE_DIR:?run through ctest}
B=${AB_BUILD_DIR:?run through ctest}

. "$S/tests/lib/sh/lib.sh"
need_oci_broker mmdebstrap flock node chromium
need_built "$B/wm/argobox-wm" "$B/bench/ab-rfbbench"

builder=$S/containers/rootfs/image-build
# one cache for every build dir (the release build's escape suite finds this image there)
. "$S/tests/lib/sh/test_images.sh"
images=$(test_images_dir "$S")
export ARGOBOX_BUILD_DIR=$B EXTRA_PACKAGES=$(test_image_extra) # python3: the escape probes
oci_setup img

start=$SECONDS
if ! "$builder" demo "$images" >"$T/build.out" 2>&1; then
	cat "$T/build.out"
	tail -20 "$images/demo/build.log" 2>/dev/null
	if grep -qiE "could not resolve|failed to fetch|connection (refused|timed out)|temporary failure" \
		"$images/demo/build.log" 2>/dev/null; then
		skip "the Debian archive is not reachable from here"
	fi
	bad "image-build demo failed"
	finish image
fi
ok "demo image built or up to date in $((SECONDS - start)) s: $(tail -n1 "$T/build.out")"
grep -q '^progress 2/6 ' "$T/build.out" || grep -q 'up to date' "$T/build.out" &&
	ok "progress lines on stdout" || bad "no progress lines: $(head -3 "$T/build.out")"
cur=$(readlink "$images/demo/current")
img=$images/demo/$cur
[ -f "$img/argobox-image.json" ] && ok "image $cur in service" || bad "no argobox-image.json in $img"

# Up to date: left alone, fast, and --check agrees.
t0=$(date +%s%N)
"$builder" demo "$images" >"$T/again.out" 2>&1
t1=$(date +%s%N)
grep -q "up to date" "$T/again.out" && [ "$(readlink "$images/demo/current")" = "$cur" ] &&
	ok "second run: up to date in $(((t1 - t0) / 1000000)) ms, same image" || bad "second run: $(cat "$T/again.out")"
"$builder" --check demo "$images" | grep -q "^up-to-date demo $cur" && ok "--check: up to date" ||
	bad "--check: $("$builder" --check demo "$images")"

# The image's content.
suid=$(find "$img" -xdev -perm /6000 -type f | wc -l)
[ "$suid" = 0 ] && ok "no setuid/setgid files" || bad "$suid setuid/setgid files"
[ "$(stat -c %u "$img")" = 0 ] && [ "$(find "$img" -xdev ! -user 0 | wc -l)" = 0 ] &&
	ok "owned by the host's root" || bad "files not owned by root in the image"
apps=$(cd "$img/usr/share/applications" && ls ./*.desktop | sed 's|^\./||' | sort | paste -sd' ')
[ "$apps" = "org.xfce.mousepad.desktop org.xfce.ristretto.desktop" ] &&
	ok "exactly the recipe's .desktop entries: $apps" || bad ".desktop entries: $apps"
grep -qx "X-ArgoBox-App=editor" "$img/usr/share/applications/org.xfce.mousepad.desktop" &&
	grep -qx "X-ArgoBox-App=image-viewer" "$img/usr/share/applications/org.xfce.ristretto.desktop" &&
	ok "entries tagged with their profile app" || bad "X-ArgoBox-App missing"
fonts=$(chroot "$img" fc-list 2>&1)
grep -qi "WenQuanYi Zen Hei" <<<"$fonts" && ok "CJK font (WenQuanYi Zen Hei)" || bad "no CJK font"
grep -qi "Noto Color Emoji" <<<"$fonts" && ok "emoji font (Noto Color Emoji)" || bad "no emoji font"
[ -f "$img/usr/share/icons/Adwaita/index.theme" ] && [ -f "$img/usr/share/icons/hicolor/index.theme" ] &&
	ok "icon themes Adwaita and hicolor" || bad "icon theme missing"
ls "$img"/usr/share/icons/hicolor/*/apps/org.xfce.mousepad.* >/dev/null 2>&1 &&
	ok "mousepad's icon in hicolor" || bad "no icon for mousepad"
[ ! -e "$img/usr/bin/argobox-session" ] && [ ! -e "$img/usr/bin/argobox-wm" ] &&
	ok "no ArgoBox program copied in (bound from the build)" || bad "ArgoBox binaries in the image"
for lib in $(ldd "$B/session/argobox-session" "$B/wm/argobox-wm" | awk '$2 == "=>" && $3 ~ /^\// {print $1}' | sort -u); do
	[ -n "$(find "$img/usr/lib" -name "$lib" -print -quit)" ] || bad "library $lib of the session/wm missing from the image"
done
ok "every library the session and wm link is in the image"

# A changed recipe whose build fails must keep the previous image in service. (A changed recipe
# that builds gets a new image: the broker part below and the escape suite use it; rebuilding
# here would cost minutes.)
mkdir -p "$T/recipes"
cp "$S"/containers/rootfs/recipes/*.recipe "$T/recipes/"
echo "packages less" >>"$T/recipes/demo.recipe" # a changed recipe: a new hash, a rebuild...
rc=0
# ... from an archive that cannot be reached (a port nothing listens on): apt fails at once
RECIPES=$T/recipes MIRROR=http://127.0.0.1:9/debian "$builder" demo "$images" >"$T/fail.out" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "building 'demo' failed" "$T/fail.out" &&
	grep -q "the previous image stays in service: $img" "$T/fail.out" &&
	ok "a failed build says why and keeps the previous image: $(grep failed "$T/fail.out" | head -1)" ||
	bad "failed build: rc=$rc $(cat "$T/fail.out")"
[ "$(readlink "$images/demo/current")" = "$cur" ] && [ -f "$img/argobox-image.json" ] &&
	ok "current still $cur" || bad "current changed after a failed build"
[ -z "$(ls -d "$images"/demo/.build.* 2>/dev/null)" ] && ok "no half-built image left" || bad "leftovers: $(ls -a "$images/demo")"
echo "app viewer" >"$T/recipes/demo.recipe"
rc=0
RECIPES=$T/recipes "$builder" demo "$images" >"$T/bad.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "demo.recipe:1: app 'viewer' needs a .desktop id" "$T/bad.out" &&
	ok "malformed recipe refused: $(cat "$T/bad.out")" || bad "malformed recipe: rc=$rc $(cat "$T/bad.out")"
rc=0
"$builder" nosuch "$images" >"$T/none.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "no recipe for profile 'nosuch' (recipes: .*demo" "$T/none.out" &&
	ok "unknown profile refused, recipes listed" || bad "unknown profile: $(cat "$T/none.out")"

# The broker, images on: desktops of the demo profile run on the image.
hash=$(openssl passwd -6 -salt abimg "s3cret-pw")
profile() { # profile IMAGE APPS
	echo "{\"image\": \"$1\", \"apps\": $2, \"limits\": {\"cpu_millis\": 1000, \"memory_mb\": 1024, \"pids\": 512},
	  \"network\": {\"egress\": \"none\"}, \"read_only_root\": true, \"persistent\": true}"
}
broker_config_oci 800x600 "[\"$B/wm/argobox-wm\"]" <<EOT
 "images": {"enabled": true, "dir": "$images"},
 "auth": {"local": {"enabled": true}},
 "users": [
   {"name": "mia", "role": "member", "profile": "shown", "uid": 1000, "password_hash": "$hash"},
   {"name": "ada", "role": "admin", "profile": "shown", "uid": 1001, "password_hash": "$hash"},
   {"name": "noe", "role": "member", "profile": "broken", "uid": 1002, "password_hash": "$hash"},
   {"name": "hal", "role": "member", "profile": "onhost", "uid": 1003, "password_hash": "$hash"},
   {"name": "wa1", "role": "member", "profile": "held", "uid": 1004, "password_hash": "$hash"},
   {"name": "wa2", "role": "member", "profile": "held", "uid": 1005, "password_hash": "$hash"},
   {"name": "fa1", "role": "member", "profile": "failing", "uid": 1006, "password_hash": "$hash"},
   {"name": "fa2", "role": "member", "profile": "failing", "uid": 1007, "password_hash": "$hash"}],
 "profiles": {
   "shown": $(profile demo '["terminal", "files", "editor", "monitor", "image-viewer"]'),
   "broken": $(profile ab-no-such-recipe '["terminal"]'),
   "onhost": $(profile host '["terminal"]'),
   "held": $(profile held '["terminal", "editor"]'),
   "failing": $(profile failing '["terminal"]')}
EOT
# the broker's recipes: the real ones, plus "held" (the demo recipe's very text: the same hash)
# and "failing" (a changed recipe, built from an archive nobody serves: apt fails at once)
mkdir -p "$T/recipes2"
cp "$S"/containers/rootfs/recipes/*.recipe "$T/recipes2/"
cp "$T/recipes2/demo.recipe" "$T/recipes2/held.recipe"
{ cat "$T/recipes2/demo.recipe"; echo "packages less"; } >"$T/recipes2/failing.recipe"
rm -rf "$images/held" "$images/failing"
RECIPES=$T/recipes2 MIRROR=http://127.0.0.1:9/debian start_broker "$T/broker.log" "$T/broker.json" --web-root "$S/web"

[ "$(login mia s3cret-pw)" = 200 ] && ok "mia signed in" || bad "login: $(cat "$T/mia.login")"
if wait_for 60 desk_ready mia; then ok "mia's desktop is ready"; else
	bad "mia's desktop: $(ctl --json list) $(grep -i image "$T/broker.log" | tail -5)"
fi
grep -q "image 'demo'" "$T/broker.log" && ok "the broker checked the image: $(grep "image 'demo'" "$T/broker.log" | tail -1)" ||
	bad "no image check in the broker's log"
pid=$(desk_pid mia)
if [ -n "$pid" ]; then
	[ -f "/proc/$pid/root/usr/share/applications/org.xfce.mousepad.desktop" ] &&
		[ "$(stat -L -c %i "/proc/$pid/root/usr/share/fonts")" = "$(stat -c %i "$img/usr/share/fonts")" ] &&
		ok "the container's /usr is the image's" || bad "container /usr is not the image"
	ls /usr/bin/chromium /usr/bin/x11vnc >/dev/null 2>&1 && [ ! -e "/proc/$pid/root/usr/bin/chromium" ] &&
		[ ! -e "/proc/$pid/root/usr/bin/x11vnc" ] && ok "host-only programs (chromium, x11vnc) not in the container" ||
		bad "host programs visible: $(ls "/proc/$pid/root/usr/bin/" | grep -E 'chromium|x11vnc|convert')"
fi
ff=$("$B/bench/ab-rfbbench" first-frame "unix:$T/run/mia/rfb.sock" 2>&1)
grep -q "first_frame_ms=.*geometry=800x600" <<<"$ff" && ok "first full frame over RFB: $ff" || bad "no first frame: $ff"
grep -q '"user":"mia".*"event":"image.use","outcome":"grant","detail":{"image":"demo","root":"'"$(readlink -f "$img")"'"' "$T/audit.log" &&
	ok "image.use granted, audited" || bad "no image.use grant: $(grep image.use "$T/audit.log" | head -2)"

# (while the broker's own check of the image runs: "building", with the image in service)
image_ready() { [ "$(get_as mia /api/image)" = 200 ] && [ "$(jq -r .state "$T/resp")" = ready ]; }
wait_for 60 image_ready
code=$(get_as mia /api/image)
[ "$code" = 200 ] && [ "$(jq -r '.image + " " + .state + " " + .root' "$T/resp")" = "demo ready $(readlink -f "$img")" ] &&
	ok "GET /api/image: $(cat "$T/resp")" || bad "GET /api/image: $code $(cat "$T/resp")"
[ "$(N curl -s -o /dev/null -w '%{http_code}' "$URL/api/image")" = 401 ] && ok "GET /api/image signed out: 401" ||
	bad "GET /api/image answers without a sign-in"

# The launcher (the wm's "launcher apps:" line in the container's console log).
launcher() { # launcher USER: the ids the wm's launcher lists
	grep -ho 'launcher apps: .*' "$T/bundles/$1.console.log" 2>/dev/null | tail -n1 | sed 's/launcher apps: //'
}
wait_for 20 sh -c "grep -q 'launcher apps:' '$T/bundles/mia.console.log'"
got=$(launcher mia | tr ' ' '\n' | sort | paste -sd' ')
want="argobox-files.desktop argobox-monitor.desktop argobox-terminal.desktop org.xfce.mousepad.desktop org.xfce.ristretto.desktop"
[ "$got" = "$want" ] && ok "mia's launcher: exactly the profile's apps: $got" || bad "mia's launcher: '$got' (want '$want')"
hostonly='chromium|tigervnc|vncviewer|x11vnc|display-im6|imagemagick|xterm|uxterm'
code=$(post /api/login '{"user":"ada","password":"s3cret-pw"}')
[ "$code" = 200 ] && wait_for 60 desk_ready ada && ok "ada (admin, every app) is ready" || bad "ada: $code $(ctl --json list)"
wait_for 20 sh -c "grep -q 'launcher apps:' '$T/bundles/ada.console.log'"
all=$(launcher ada)
[ -n "$all" ] && ! grep -qiE "$hostonly" <<<"$all" &&
	ok "no host-only app (Chromium, TigerVNC, x11vnc, ImageMagick, XTerm) for an admin: $all" ||
	bad "admin launcher: '$all'"
grep -q "org.xfce.mousepad.desktop" <<<"$all" && grep -q "argobox-settings.desktop" <<<"$all" &&
	ok "the admin sees the image's apps and ArgoBox's own" || bad "admin launcher: '$all'"

# A profile whose recipe does not exist: refused, with the builder's message, audited.
login noe s3cret-pw >/dev/null
wait_for 30 grep -q "image 'ab-no-such-recipe'.*no recipe" "$T/broker.log" &&
	ok "the broker's build of a missing recipe fails: $(grep "image 'ab-no-such-recipe'" "$T/broker.log" | grep -m1 recipe)" ||
	bad "no build failure logged: $(grep -i image "$T/broker.log" | tail -3)"
sleep 1
desk_ready noe && bad "noe's desktop started without an image" || ok "noe has no desktop"
# the boot screen's question: the image's state, with the builder's message
get_as noe /api/image >/dev/null
[ "$(jq -r .state "$T/resp")" = failed ] && jq -r .error "$T/resp" | grep -q "no recipe for profile 'ab-no-such-recipe'" &&
	ok "GET /api/image for noe: failed, with the reason: $(jq -r .error "$T/resp")" || bad "noe's /api/image: $(cat "$T/resp")"
grep -q '"user":"noe".*"event":"image.use","outcome":"deny"' "$T/audit.log" &&
	ok "image.use denied, audited: $(grep -m1 '"user":"noe".*"event":"image.use"' "$T/audit.log" | grep -o '"reason":"[^"]*"')" ||
	bad "no image.use deny for noe: $(grep '"user":"noe"' "$T/audit.log" | tail -3)"
grep '"event":"container.start"' "$T/audit.log" | grep '"user":"noe"' | grep -q "desktop image not ready" &&
	ok "container.start denied (desktop image not ready)" || bad "no container.start deny for noe"

# "host": the host's /usr, loudly.
code=$(post /api/login '{"user":"hal","password":"s3cret-pw"}')
wait_for 60 desk_ready hal && ok "hal (image \"host\") is ready" || bad "hal: $(ctl --json list)"
grep -q "desktop of 'hal' runs on the HOST's /usr" "$T/broker.log" && ok "loud warning for the host's /usr" ||
	bad "no host warning: $(grep -i host "$T/broker.log" | tail -2)"

# The first build, waited for. The test holds both recipes' builds on their lock (as a build
# already running, e.g. ./argobox images, would): the broker's image-build waits there.
mkdir -p "$images/held" "$images/failing"
exec 8>"$images/held/.lock" 7>"$images/failing/.lock"
flock 8 && flock 7 || bad "cannot take the builds' locks"
rm -f "$T/progress-seen" "$T/desktop-seen"
# (not holding the locks' fds: the lock lasts as long as any process has them open)
N node "$S/tests/integration/image/image-wait.mjs" "$URL" wa1 s3cret-pw "$T" >"$T/chromium.log" 2>&1 7>&- 8>&- &
chromium_pid=$!
wait_for 120 grep -q "the desktop of 'wa1' waits for its image 'held'" "$T/broker.log" || bad "wa1 does not wait: $(grep -E "wa1|image 'held'" "$T/broker.log" | tail -3)"
code2=$(login wa2 s3cret-pw)
code3=$(login fa1 s3cret-pw)
code4=$(login fa2 s3cret-pw)
[ "$code2 $code3 $code4" = "200 200 200" ] && ok "wa2, fa1, fa2 signed in during the builds" || bad "sign-ins: $code2 $code3 $code4"
wait_for 30 grep -q "the desktop of 'fa2' waits for its image 'failing'" "$T/broker.log"
for u in wa1 wa2 fa1 fa2; do
	grep -q "the desktop of '$u' waits for its image" "$T/broker.log" && ok "$u's start waits: $(grep -m1 "the desktop of '$u' waits" "$T/broker.log" | sed 's/.*the desktop/the desktop/')" ||
		bad "$u does not wait: $(grep "$u" "$T/broker.log" | tail -3)"
done
waiting=$(ctl --json list | jq -r '[.desktops[] | select(.waiting_for == "image") | .user] | sort | join(" ")')
[ "$waiting" = "fa1 fa2 wa1 wa2" ] && ok "argoboxctl list: four desktops waiting for their image" || bad "waiting desktops: '$waiting'"
grep -E '"user":"(wa1|wa2|fa1|fa2)"' "$T/audit.log" | grep -qE '"outcome":"deny"' &&
	bad "a start was refused while its image was being built: $(grep -E '"user":"(wa1|wa2|fa1|fa2)"' "$T/audit.log" | grep deny | head -2)" ||
	ok "no start refused while the images are built"
[ "$(grep -c '"event":"image.wait".*"image":"held"' "$T/audit.log")" = 2 ] && ok "image.wait audited for wa1 and wa2" ||
	bad "image.wait: $(grep image.wait "$T/audit.log")"
held_progress() { # the builder's own words once it waits on the lock
	get_as wa2 /api/image >/dev/null
	jq -e '.state == "building" and .image == "held" and .profile == "held" and .step == 0 and .steps == 6 and
		(.detail | test("waiting for another build")) and .waiting == 2 and (.elapsed_s | type) == "number"' "$T/resp"
}
wait_for 30 held_progress && ok "GET /api/image during the build: $(cat "$T/resp")" || bad "GET /api/image during the build: $(cat "$T/resp")"
get_as fa1 /api/image >/dev/null
jq -e '.state == "building" and .image == "failing" and (.detail | test("another image")) and .waiting == 2' "$T/resp" >/dev/null &&
	ok "the failing recipe's build is queued behind it: $(jq -c '{state, detail, waiting}' "$T/resp")" || bad "failing's /api/image: $(cat "$T/resp")"
if wait_for 90 test -f "$T/progress-seen"; then
	ok "Chromium shows the build's progress: $(paste -sd'/' "$T/progress-seen")"
else
	bad "Chromium never showed the progress:"
	cat "$T/chromium.log"
fi
# the other build finishes: the demo image's files (same hash) put in service, the lock let go
cp -al "$img" "$images/held/$cur"
ln -sfn "$cur" "$images/held/.current.t" && mv -T "$images/held/.current.t" "$images/held/current"
exec 8>&-
for u in wa1 wa2; do
	wait_for 90 desk_ready "$u" && ok "$u's desktop is up after the build" || bad "$u: $(ctl --json list) $(grep "'$u'" "$T/broker.log" | tail -3)"
	grep -q '"user":"'$u'".*"event":"image.use","outcome":"grant","detail":{"image":"held","root":"'"$(readlink -f "$images/held/$cur")"'"' "$T/audit.log" &&
		ok "$u: image.use granted on the held image" || bad "$u: no image.use grant: $(grep ""user":"$u"" "$T/audit.log" | tail -3)"
done
[ "$(grep -c '"event":"image.build".*"image":"held","step":"started"' "$T/audit.log")" = 1 ] &&
	ok "one build of 'held' for both desktops" || bad "builds of held: $(grep '"image.build".*held' "$T/audit.log")"
wait "$chromium_pid" && [ -f "$T/desktop-seen" ] && ok "Chromium: the desktop appeared by itself on the same websocket: $(grep -o 'desktop shown.*' "$T/chromium.log")" ||
	bad "Chromium:"
	cat "$T/chromium.log"
mkdir -p "$B/test-output"
cp "$T/image-wait.png" "$B/test-output/" 2>/dev/null
# the failing recipe's build goes ahead now: it fails, and both its users hear why
wait_for 30 grep -q "progress 0/6 waiting for another build of 'failing'\|image 'failing': 0/6 waiting for another build" "$T/broker.log"
exec 7>&-
wait_for 60 grep -q "image 'failing': the build failed" "$T/broker.log" &&
	ok "the failing build: $(grep -m1 "image 'failing': the build failed" "$T/broker.log" | sed "s/.*image 'failing'/image 'failing'/")" ||
	bad "no build failure for 'failing': $(grep "image 'failing'" "$T/broker.log" | tail -3)"
for u in fa1 fa2; do
	wait_for 10 grep -q "desktop '$u' cannot start: the desktop image 'failing' could not be built: image-build: building 'failing' failed\|desktop '$u' cannot start: the desktop image 'failing' could not be built: building 'failing' failed" "$T/broker.log" &&
		ok "$u's start ends with the build's message" || bad "$u: $(grep "'$u'" "$T/broker.log" | tail -3)"
	desk_ready "$u" && bad "$u has a desktop without an image" || true
	grep '"user":"'$u'"' "$T/audit.log" | grep '"event":"image.use","outcome":"deny"' | grep -q "could not be built" &&
		grep '"user":"'$u'"' "$T/audit.log" | grep '"event":"container.start","outcome":"deny"' | grep -q "desktop image not ready" &&
		ok "$u: image.use and container.start denied, audited: $(grep '"user":"'$u'".*"image.use","outcome":"deny"' "$T/audit.log" | grep -o '"reason":"[^"]*' | cut -c1-120)" ||
		bad "$u: audit: $(grep ""user":"$u"" "$T/audit.log" | tail -3)"
	get_as "$u" /api/image >/dev/null
	jq -e '.state == "failed" and (.error | test("building .failing. failed"))' "$T/resp" >/dev/null &&
		ok "$u: GET /api/image: failed, $(jq -r .error "$T/resp" | cut -c1-100)" || bad "$u: /api/image: $(cat "$T/resp")"
done
[ "$(grep -c '"event":"image.build","outcome":"failure".*"image":"failing"' "$T/audit.log")" = 1 ] &&
	ok "one image.build failure for 'failing' in the audit log" || bad "image.build failures: $(grep '"image.build".*failing' "$T/audit.log")"

stop_broker_ok
rm -rf "$images/held" "$images/failing"
finish image
