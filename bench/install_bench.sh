#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/install_bench.sh: what `./argobox run` installs on a fresh Debian 12, before and after
# the dependency split (issue 14), measured for real in two fresh roots.
#   ./argobox bench install [--no-warm] [--no-build] [--keep] [--variant V] [--ref REF]
#   (= bench/install_bench.sh --measure ...; as root; downloads about 1 GB, takes 20-40 min)
# Without --measure it only says how to run it and exits 0: bench/run runs every
# bench/*_bench.sh, and this one is not for the default benchmark run nor for CI.
#
# 1. mmdebstrap --variant=important bookworm (Priority required + important: what Debian's
#    installer lays down as the base system of a server before tasksel, debootstrap's default)
#    from the mirror this machine's apt uses (deb.debian.org: bookworm, bookworm-updates,
#    bookworm-security); apt lists and cache emptied, like mmdebstrap leaves them.
# 2. For "before" (the last commit whose ./argobox run installed every deps/debian/*.txt and
#    ran `npm ci` in every package-lock.json folder) and "after" (REF's deps/debian/run.txt
#    and web/'s npm tree, what `./argobox deps run` installs today), in a fresh copy of
#    that root, chrooted (proc, sys, dev mounted; unmounted on every exit path):
#      apt-get update (timed alone); apt-get install -y --no-install-recommends LIST with an
#      empty apt cache (cold: downloads counted); newly installed packages (dpkg before/after),
#      .deb bytes downloaded, disk used (du of the root, apt lists and cache excluded);
#      `npm ci` in each npm folder of that commit's `git archive`, empty npm cache.
#    Warm (unless --no-warm): another fresh copy with the cold run's lists and .debs in
#    place, apt-get install alone: unpacking and configuring, no network.
# 3. Unless --no-build: in the "after" root (run.txt only), configure and build REF's
#    `git archive` exactly as ./argobox run does (cmake RelWithDebInfo, nproc jobs); every
#    CMake warning except cmocka's (test.txt) is a failure, as is `./argobox build` then
#    finding a package missing; then scripts/first-run-config and the broker's
#    --check-config on what it wrote (./argobox run minus starting the broker).
# Prints a Markdown table on stdout; progress on stderr. Scratch: a new folder under
# AB_INSTALL_BENCH_DIR (default /var/tmp/ab-install-bench), removed at the end unless --keep.
set -euo pipefail
top=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)

# The parent of eb07aa9, which deleted the per-area lists while ./argobox still read
# deps/debian/*.txt (cdbd964 then added run/test/bench.txt): the last working "before".
before_ref=f9ecae7
after_ref=HEAD
variant=important suite=bookworm
mirrors=("deb http://deb.debian.org/debian $suite main"
	"deb http://deb.debian.org/debian $suite-updates main"
	"deb http://deb.debian.org/debian-security $suite-security main")
measure=0 warm=1 build=1 keep=0
while (($#)); do
	case "$1" in
	--measure) measure=1 ;;
	--no-warm) warm=0 ;;
	--no-build) build=0 ;;
	--keep) keep=1 ;;
	--variant) variant=$2; shift ;;
	--ref) after_ref=$2; shift ;;
	--quick) ;; # bench/run passes it; nothing to shorten here
	-h | --help) sed -n '4,32p' "$0" | sed 's/^# \?//'; exit 0 ;;
	*) echo "install_bench.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
if ((!measure)); then
	echo "install benchmark: not part of the default run (it builds Debian roots and downloads" \
		"about 1 GB); run it with: ./argobox bench install" >&2
	exit 0
fi

say() { printf '\033[1m[install-bench]\033[0m %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap, chroot, mounts)"
if ! command -v mmdebstrap >/dev/null; then
	say "installing mmdebstrap"
	apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi
git -C "$top" rev-parse -q --verify "$before_ref^{commit}" >/dev/null ||
	die "commit $before_ref is not in this repository"
after_commit=$(git -C "$top" rev-parse --short "$after_ref^{commit}")

parent=${AB_INSTALL_BENCH_DIR:-/var/tmp/ab-install-bench}
mkdir -p "$parent"
W=$(mktemp -d "$parent/run.XXXXXX")
mounts=()
cleanup() {
	local i
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		umount -R "${mounts[i]}" 2>/dev/null || umount -R -l "${mounts[i]}" 2>/dev/null || true
	done
	mounts=()
	if ((keep)); then say "kept $W"; else
		rm -rf --one-file-system "$W"
		rmdir "$parent" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1000000 }'; }
du_b() { du -sx --block-size=1 "$@" 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }

# chroot with a clean environment, like a root shell on the fresh machine
in_root() { # in_root ROOT CMD...
	local r=$1
	shift
	env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive ${ca:+NODE_EXTRA_CA_CERTS=/etc/ab-bench-ca.crt SSL_CERT_FILE=/etc/ab-bench-ca-all.crt} \
		chroot "$r" "$@"
}
mount_root() {
	local r=$1
	mount -t proc proc "$r/proc" && mounts+=("$r/proc")
	mount -t sysfs -o ro sysfs "$r/sys" && mounts+=("$r/sys")
	# A private /dev, not the host's: package scripts run as root in the chroot and may
	# remove or recreate device nodes (a host /dev/null left 0444 once broke every container
	# test on the machine while this ran with the host's /dev bound in).
	mount -t tmpfs -o mode=0755,nosuid,size=1m argobox-bench-dev "$r/dev" && mounts+=("$r/dev")
	local n name major minor
	for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
		IFS=: read -r name major minor <<<"$n"
		mknod -m 0666 "$r/dev/$name" c "$major" "$minor"
	done
	mkdir -p "$r/dev/pts" "$r/dev/shm"
	mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts" && mounts+=("$r/dev/pts")
	ln -sf pts/ptmx "$r/dev/ptmx"
	ln -sf /proc/self/fd "$r/dev/fd"
	# name resolution as the host has it; no daemon started inside the chroot
	rm -f "$r/etc/resolv.conf"
	cp -L /etc/resolv.conf "$r/etc/resolv.conf"
	printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
	chmod 755 "$r/usr/sbin/policy-rc.d"
	# This workplace reaches the npm registry through a TLS-inspecting proxy whose CA is in
	# the host's /usr/local/share/ca-certificates; a real fresh machine needs none of this.
	# (python3's urllib, in scripts/fetch-npm-lock, reads SSL_CERT_FILE: the host's whole bundle)
	if [ -n "$ca" ]; then
		cp "$ca" "$r/etc/ab-bench-ca.crt"
		cp -L /etc/ssl/certs/ca-certificates.crt "$r/etc/ab-bench-ca-all.crt"
	fi
}
umount_root() {
	local r=$1 i
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		case ${mounts[i]} in "$r"/*)
			umount -R "${mounts[i]}" 2>/dev/null || umount -R -l "${mounts[i]}"
			unset 'mounts[i]'
			;;
		esac
	done
	mounts=("${mounts[@]}")
	rm -f "$r/usr/sbin/policy-rc.d" "$r/etc/ab-bench-ca.crt"
}
ca=""
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
	ca=$W/extra-ca.crt
	cat /usr/local/share/ca-certificates/*.crt >"$ca"
fi
installed() { in_root "$1" dpkg-query -W -f='${db:Status-Abbrev} ${Package}:${Architecture}\n' | awk '$1 == "ii" { print $2 }' | sort; }
pkg_list() { sed 's/#.*//' "$@" | tr -s ' \t' '\n' | sed '/^$/d' | sort -u; }

# ---- the fresh root
say "mmdebstrap --variant=$variant $suite (from ${mirrors[0]#deb })"
rm -rf --one-file-system "$W/base"
t=$(now)
mmdebstrap --variant="$variant" --mode=root "$suite" "$W/base" "${mirrors[@]}" >"$W/mmdebstrap.log" 2>&1 ||
	{ tail -20 "$W/mmdebstrap.log" >&2; die "mmdebstrap failed"; }
base_pkgs=$(installed "$W/base" | wc -l)
base_mb=$(mb "$(du_b "$W/base")")
say "fresh root: $base_pkgs packages, $base_mb MB, in $(since "$t") s"

# ---- the two sources
for s in before after; do
	ref=$before_ref
	[ $s = before ] || ref=$after_ref
	rm -rf "$W/src-$s"
	mkdir -p "$W/src-$s"
	git -C "$top" archive "$ref" | tar -x -C "$W/src-$s"
done
# what ./argobox deps installed then: every list; npm ci wherever a package-lock.json is
pkg_list "$W"/src-before/deps/debian/*.txt >"$W/pkgs-before"
(cd "$W/src-before" && find . -name package-lock.json -not -path '*/node_modules/*' -not -path './build*' |
	sort | xargs -n1 dirname) >"$W/npm-before"
# and today: run.txt, web/
pkg_list "$W/src-after/deps/debian/run.txt" >"$W/pkgs-after"
echo ./web >"$W/npm-after"

declare -A R
measure_one() { # measure_one before|after
	local s=$1 r t dir b0
	r=$W/root-$s
	say "$s: fresh copy of the root"
	rm -rf --one-file-system "$r"
	cp -a "$W/base" "$r"
	mkdir -p "$r/root/argobox"
	cp -a "$W/src-$s/." "$r/root/argobox/"
	mount_root "$r"
	installed "$r" >"$W/dpkg0-$s"
	# ./argobox deps asks apt only for what dpkg does not have (and skips nodejs/npm when a
	# node is on PATH: not on a fresh machine)
	local listed=0 missing=()
	listed=$(wc -l <"$W/pkgs-$s")
	mapfile -t missing < <(sed 's/:.*//' "$W/dpkg0-$s" | sort -u | comm -23 "$W/pkgs-$s" -)
	R[$s.listed]=$listed R[$s.missing]=${#missing[@]}
	printf '%s\n' "${missing[@]}" >"$W/missing-$s"

	say "$s: apt-get update"
	t=$(now)
	in_root "$r" apt-get update -qq
	R[$s.update_s]=$(since "$t")
	b0=$(du_b "$r")

	say "$s: apt-get install --no-install-recommends (${#missing[@]} of $listed listed packages missing)"
	t=$(now)
	in_root "$r" apt-get install -y --no-install-recommends "${missing[@]}" >"$W/apt-$s.log" 2>&1 ||
		{ tail -20 "$W/apt-$s.log" >&2; die "$s: apt-get install failed"; }
	R[$s.install_s]=$(since "$t")
	R[$s.upgraded]=$(sed -n 's/^\([0-9]*\) upgraded.*/\1/p' "$W/apt-$s.log")
	installed "$r" >"$W/dpkg1-$s"
	R[$s.new]=$(comm -13 "$W/dpkg0-$s" "$W/dpkg1-$s" | wc -l)
	R[$s.dl_b]=$(find "$r/var/cache/apt/archives" -name '*.deb' -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f\n", s }')
	rm -rf "$W/debs-$s" "$W/lists-$s"
	mkdir -p "$W/debs-$s"
	find "$r/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -exec mv -t "$W/debs-$s" {} +
	cp -a "$r/var/lib/apt/lists" "$W/lists-$s"
	in_root "$r" apt-get clean
	R[$s.disk_b]=$(($(du_b "$r") - b0))

	# npm: each folder that ./argobox deps ran `npm ci` in, empty cache (fresh ~/.npm)
	local nm=0
	t=$(now)
	while read -r dir; do
		# ./argobox deps fetches web/'s tree itself where the tree has scripts/fetch-npm-lock
		# (no Node.js or npm in run.txt since then); elsewhere npm ci, as ./argobox did then
		if [ "$dir" = ./web ] && [ -x "$r/root/argobox/scripts/fetch-npm-lock" ]; then
			say "$s: scripts/fetch-npm-lock $dir"
			in_root "$r" sh -c "cd /root/argobox && scripts/fetch-npm-lock $dir" </dev/null \
				>>"$W/npm-$s.log" 2>&1 || { tail -20 "$W/npm-$s.log" >&2; die "$s: fetch-npm-lock $dir failed"; }
		else
			say "$s: npm ci in $dir"
			in_root "$r" sh -c "cd /root/argobox/$dir && npm ci --no-audit --no-fund --loglevel=error" </dev/null \
				>>"$W/npm-$s.log" 2>&1 || { tail -20 "$W/npm-$s.log" >&2; die "$s: npm ci in $dir failed"; }
		fi
		nm=$((nm + $(du_b "$r/root/argobox/$dir/node_modules")))
	done <"$W/npm-$s"
	R[$s.npm_s]=$(since "$t")
	R[$s.npm_trees]=$(wc -l <"$W/npm-$s")
	R[$s.npm_dl_b]=$(du_b "$r/root/.npm/_cacache")
	R[$s.npm_disk_b]=$nm
	R[$s.npm_pkgs]=$(while read -r dir; do
		in_root "$r" python3 -c 'import json, sys; print(sum(1 for k in json.load(open(sys.argv[1]))["packages"] if k))' \
			"/root/argobox/$dir/node_modules/.package-lock.json" </dev/null
	done <"$W/npm-$s" | awk '{ s += $1 } END { printf "%.0f\n", s }')
	umount_root "$r"
	say "$s: ${R[$s.new]} new packages in ${R[$s.install_s]} s; npm ${R[$s.npm_s]} s"
}

measure_warm() { # measure_warm before|after: .debs and lists already there
	local s=$1 r t missing
	r=$W/warm-$s
	say "$s (warm): fresh copy with the downloaded .debs in the apt cache"
	rm -rf --one-file-system "$r"
	cp -a "$W/base" "$r"
	rm -rf "$r/var/lib/apt/lists"
	cp -a "$W/lists-$s" "$r/var/lib/apt/lists"
	cp -a "$W/debs-$s/." "$r/var/cache/apt/archives/"
	mount_root "$r"
	mapfile -t missing <"$W/missing-$s"
	t=$(now)
	in_root "$r" apt-get install -y --no-install-recommends --no-download "${missing[@]}" >"$W/apt-warm-$s.log" 2>&1 ||
		{ tail -20 "$W/apt-warm-$s.log" >&2; die "$s (warm): apt-get install failed"; }
	R[$s.warm_s]=$(since "$t")
	umount_root "$r"
	rm -rf --one-file-system "$r"
}

measure_one before
measure_one after
if ((warm)); then
	measure_warm before
	measure_warm after
fi

# ---- the table
row() { printf '| %s | %s | %s |\n' "$@"; }
tot() { echo $((R[$1.update_s] + R[$1.install_s] + R[$1.npm_s])); }
echo
echo "\`./argobox run\`'s install on a fresh Debian 12 ($suite, mmdebstrap --variant=$variant: $base_pkgs packages, $base_mb MB), $(date -u +%Y-%m-%d), $(nproc) cores"
echo
row "" "before ($before_ref: every deps/debian/*.txt, $(wc -l <"$W/npm-before") npm trees)" "after ($after_commit: run.txt, web/)"
row "---" "---:" "---:"
row "Debian packages listed / missing" "${R[before.listed]} / ${R[before.missing]}" "${R[after.listed]} / ${R[after.missing]}"
row "newly installed (with dependencies) / upgraded" "${R[before.new]} / ${R[before.upgraded]}" "${R[after.new]} / ${R[after.upgraded]}"
row ".debs downloaded, MB" "$(mb "${R[before.dl_b]}")" "$(mb "${R[after.dl_b]}")"
row "disk used by them, MB" "$(mb "${R[before.disk_b]}")" "$(mb "${R[after.disk_b]}")"
row "apt-get update, s" "${R[before.update_s]}" "${R[after.update_s]}"
row "apt-get install, cold (downloads included), s" "${R[before.install_s]}" "${R[after.install_s]}"
if ((warm)); then row "apt-get install, warm (.debs cached), s" "${R[before.warm_s]}" "${R[after.warm_s]}"; fi
row "npm trees / packages" "${R[before.npm_trees]} / ${R[before.npm_pkgs]}" "${R[after.npm_trees]} / ${R[after.npm_pkgs]}"
row "npm download (cache), MB / node_modules, MB" "$(mb "${R[before.npm_dl_b]}") / $(mb "${R[before.npm_disk_b]}")" "$(mb "${R[after.npm_dl_b]}") / $(mb "${R[after.npm_disk_b]}")"
row "npm ci, s" "${R[before.npm_s]}" "${R[after.npm_s]}"
row "**total: update + cold install + npm, s**" "**$(tot before)**" "**$(tot after)**"
echo
# printed before the build check, so a failing check keeps the measurements
build_note="not checked (--no-build)"
if ((build)); then
	r=$W/root-after
	mount_root "$r"
	say "after: configure and build $after_commit in the root that has run.txt only"
	t=$(now)
	if ! in_root "$r" sh -c 'cd /root/argobox && cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
		cmake --build build -j"$(nproc)" -- --no-print-directory' >"$W/build.log" 2>&1; then
		grep -E "error|Error|not found" "$W/build.log" | head -20 >&2
		die "the build failed in the root with run.txt only (log: $W/build.log; --keep keeps it)"
	fi
	R[build_s]=$(since "$t")
	# each warning's first line of text: "cmocka not found: unit test X is not built" is fine
	warnings=$(grep -A1 '^CMake Warning' "$W/build.log" | grep -vE '^CMake Warning|^--$|^ *$|cmocka not found' || true)
	[ -z "$warnings" ] || die "configure warned in the root with run.txt only (something is missing):
$warnings"
	# ./argobox build: deps run (must find nothing missing), then the same build
	out=$(in_root "$r" sh -c 'cd /root/argobox && ./argobox build' 2>&1) ||
		die "./argobox build failed in the chroot: $out"
	if grep -q installing <<<"$out"; then die "./argobox deps run still found something to install: $out"; fi
	for exe in broker/argobox-broker broker/argobox-seccomp-shim session/argobox-session wm/argobox-wm apps/bin/argobox-terminal; do
		[ -x "$r/root/argobox/build/$exe" ] || die "build/$exe was not built"
	done
	in_root "$r" sh -c 'cd /root/argobox && mkdir -p -m 0700 var && scripts/first-run-config var/argobox.json var/admin-password &&
		./build/broker/argobox-broker --web-root /root/argobox/web --config var/argobox.json --check-config' >"$W/check.log" 2>&1 ||
		{ cat "$W/check.log" >&2; die "first-run-config / --check-config failed in the chroot"; }
	umount_root "$r"
	build_note="configure + build in ${R[build_s]} s on $(nproc) cores; no CMake warning but cmocka's, ./argobox build found nothing to install, first-run-config and --check-config passed"
fi

echo "run.txt complete: $build_note"
echo
