#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Desktop images benchmark (issue 16, docs/images.md). One run, one table:
#   1. each recipe's image: build time (this run, or the one recorded when the image in service
#      was built: up-to-date images are not rebuilt), size on disk, packages, apps;
#   2. container start -> first full frame (RFB), desktops on the demo image and on the host's
#      /usr interleaved, median and p95, and the ratio;
#   3. N idle desktops at once on the demo image and on the host's /usr: memory per desktop
#      (cgroup usage; PSS of its processes) and desktops per GiB, side by side.
# Needs root, runc, mmdebstrap, the Debian archive (first build) and a build (./build as
# `./argobox bench` makes it; AB_BUILD_DIR=...). Images are kept in IB_IMAGES (default
# /var/tmp/argobox-bench-images; its debs/ caches every download), so a rerun builds nothing
# unless a recipe changed.
# Knobs: IB_PROFILES (default: every recipe), IB_STARTS (10 per side), IB_DESKTOPS (8 per side),
# IB_IDLE_S (5), IB_REBUILD=1 (build every image again from the cached .debs).
# --quick (bench/run --quick): the demo image only, 4 starts and 4 desktops per side.
set -uo pipefail
if [ "${1:-}" = --quick ]; then
	: "${IB_PROFILES:=demo}" "${IB_STARTS:=4}" "${IB_DESKTOPS:=4}"
fi
. "$(dirname "$(readlink -f "$0")")/lib.sh"
tool=$B/tests/integration/runtime/ab-runtime-tool
session=$B/session/argobox-session
wm=$B/wm/argobox-wm
rfb=$B/bench/ab-rfbbench
builder=$S/containers/rootfs/image-build
images=${IB_IMAGES:-/var/tmp/argobox-bench-images}
starts=${IB_STARTS:-10} desktops=${IB_DESKTOPS:-8} idle_s=${IB_IDLE_S:-5}
[ "$(id -u)" = 0 ] || skip "needs root (runc, mmdebstrap)"
need_built "$tool" "$session" "$wm" "$rfb"
need_tools runc mmdebstrap ip nsenter jq
profiles=${IB_PROFILES:-$(cd "$S/containers/rootfs/recipes" && ls ./*.recipe | sed 's|^\./||; s/\.recipe$//' | grep -vx common | paste -sd' ')}

ab_tmpdir ab-ibench 755
tmp=$T
tag=$$
hostns=abib-$tag
G=(--netns-dir "$tmp/netns" --bundle-root "$tmp/bundles" --prefix "abib$tag-" --table "abib$tag"
	--audit "$tmp/audit.log")
X() { nsenter --net=/run/netns/$hostns "$tool" "${G[@]}" "$@"; }
users=()
netns_add "$hostns"
at_exit 'for u in "${users[@]}"; do X stop --user "$u" >/dev/null 2>&1; done'
mkdir -p "$tmp/netns"
export ARGOBOX_BUILD_DIR=$B

# 1. The images.
rows=()
for p in $profiles; do
	[ "${IB_REBUILD:-0}" = 1 ] && rm -f "$images/$p/current"
	t0=$(date +%s)
	# (REBUILD: an image of the same hash is not put back in service, it is built again)
	if ! REBUILD=${IB_REBUILD:-0} "$builder" "$p" "$images" >"$tmp/build-$p.out" 2>&1; then
		rows+=("| $p | **failed**: $(grep -m1 'failed' "$tmp/build-$p.out") | | | | |")
		continue
	fi
	t1=$(date +%s)
	j=$images/$p/current/argobox-image.json
	if grep -q "up to date" "$tmp/build-$p.out"; then
		how="$(jq -r .build_seconds "$j") (built $(jq -r .built "$j"))"
	else
		how="$((t1 - t0)) (this run)"
	fi
	rows+=("| $p | $how | $(($(jq -r .bytes "$j") >> 20)) | $(jq -r '.packages | length' "$j") | $(jq -r '[.apps[].name] | join(", ")' "$j") |")
done

# 2 and 3: desktops on the demo image vs the host's /usr.
demo=$(readlink -f "$images/demo/current")
[ -d "$demo" ] || skip "no demo image (the build failed: $(cat "$tmp/build-demo.out" 2>/dev/null | tail -3))"
mounts=(--mount "$session:/opt/argobox/argobox-session" --mount "$wm:/opt/argobox/argobox-wm"
	--mount "$S/assets:$S/assets")
start_one() { # start_one USER INDEX IMAGE|host
	local u=$1 i=$2 img=()
	[ "$3" = host ] || img=(--image "$3")
	mkdir -p "$tmp/run-$u" "$tmp/home-$u"
	X start --user "$u" --role member --index "$i" --rundir "$tmp/run-$u" --home "$tmp/home-$u" \
		--memory $((1 << 30)) --pids 512 --seccomp "$S/containers/seccomp/default.json" "${mounts[@]}" \
		"${img[@]}" -- /opt/argobox/argobox-session --runtime-dir /run/argobox --ready-fd 3 \
		--geometry 1280x800 -- /opt/argobox/argobox-wm >/dev/null 2>&1 || return 1
	users+=("$u")
}
first_frame() { # first_frame USER: ms from the start command to a first full frame
	local u=$1 t0 t1
	t0=$(now_us)
	start_one "$u" 1 "$2" || return 1
	"$rfb" first-frame "unix:$tmp/run-$u/rfb.sock" >/dev/null 2>&1 || return 1
	t1=$(now_us)
	echo $(((t1 - t0) / 1000))
	X stop --user "$u" >/dev/null 2>&1
	users=()
}
ff_img=() ff_host=()
for ((n = 0; n < starts; n++)); do # interleaved: the machine's load hits both alike
	v=$(first_frame "fi$n" "$demo") && ff_img+=("$v") || echo "images_bench: start on the image failed" >&2
	v=$(first_frame "fh$n" host) && ff_host+=("$v") || echo "images_bench: start on the host failed" >&2
done
read -r fi_med fi_p95 < <(printf '%s\n' "${ff_img[@]}" | stats)
read -r fh_med fh_p95 < <(printf '%s\n' "${ff_host[@]}" | stats)

density() { # density PREFIX IMAGE|host -> "running cgroup_MiB pss_MiB"
	local pre=$1 n u mem_sum=0 pss_sum=0 p k
	users=()
	for ((n = 1; n <= desktops; n++)); do start_one "$pre$n" "$n" "$2" || break; done
	sleep "$idle_s"
	for u in "${users[@]}"; do
		mem_sum=$((mem_sum + $(cat /sys/fs/cgroup/memory/argobox/$u/memory.usage_in_bytes 2>/dev/null || echo 0)))
		for p in $(cat /sys/fs/cgroup/pids/argobox/$u/cgroup.procs 2>/dev/null); do
			k=$(awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup 2>/dev/null)
			pss_sum=$((pss_sum + ${k:-0}))
		done
	done
	local running=${#users[@]}
	((running)) || { echo "0 0 0"; return; }
	for u in "${users[@]}"; do X stop --user "$u" >/dev/null 2>&1; done
	users=()
	echo "$running $((mem_sum / running / 1048576)) $((pss_sum / running / 1024))"
}
read -r di_n di_mem di_pss < <(density di "$demo")
read -r dh_n dh_mem dh_pss < <(density dh host)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b}'; }
per_gib() { awk -v m="$1" 'BEGIN {if (m + 0 == 0) print "n/a"; else printf "%.1f", 1024 / m}'; }

printf '\n### Desktop images (%s, %s; %d starts and %d idle desktops per side)\n\n' \
	"$(date -u +%FT%TZ)" "$(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)" "$starts" "$desktops"
printf '| image | build s | size MiB | packages | apps |\n|---|---:|---:|---:|---|\n'
printf '%s\n' "${rows[@]}"
printf '\n.deb cache: %s MiB in %s\n\n' "$(($(du -sb "$images/debs" 2>/dev/null | cut -f1) >> 20))" "$images/debs"
printf '| metric | demo image | host /usr | image ÷ host | target |\n|---|---:|---:|---:|---|\n'
printf '| container start -> first full frame, median (ms) | %s | %s | %s | no slower (<= 1.00) |\n' "$fi_med" "$fh_med" "$(ratio "$fi_med" "$fh_med")"
printf '| container start -> first full frame, p95 (ms) | %s | %s | %s | |\n' "$fi_p95" "$fh_p95" "$(ratio "$fi_p95" "$fh_p95")"
printf '| idle desktops running | %s | %s | | %s |\n' "$di_n" "$dh_n" "$desktops"
printf '| memory per idle desktop, cgroup usage (MiB) | %s | %s | %s | no higher (<= 1.00) |\n' "$di_mem" "$dh_mem" "$(ratio "$di_mem" "$dh_mem")"
printf '| memory per idle desktop, PSS (MiB) | %s | %s | %s | no higher (<= 1.00) |\n' "$di_pss" "$dh_pss" "$(ratio "$di_pss" "$dh_pss")"
printf '| desktops per GiB (by cgroup usage; the image is shared, on disk and in the page cache) | %s | %s | %s | |\n' \
	"$(per_gib "$di_mem")" "$(per_gib "$dh_mem")" "$(ratio "$(per_gib "$di_mem")" "$(per_gib "$dh_mem")")"
