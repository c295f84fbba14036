#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Container benchmark (issues 5, 22): container creation to Xvfb ready (median, p95), network
# namespace + veth + nftables rules (median, p95), and the density of N idle desktops at
# 1920x1080 (argobox-session + Xvfb + argobox-wm with the wallpaper, in runc): memory per
# desktop as the PSS of every process in its container plus its cgroup's kernel memory, with
# the breakdown per process; desktops per GiB, the N-desktop total; idle CPU. Prints a table.
# Needs root, runc and a built argobox-session.
#   bench/container_bench.sh                  (uses ./build, as `./argobox bench` builds it)
#   AB_BUILD_DIR=build-x RUNTIME=crun bench/container_bench.sh
# Knobs: CB_STARTS (default 20), CB_DESKTOPS (20), CB_IDLE_S (10), CB_GEOMETRY (1920x1080),
# RUNTIME (runc|crun).
# Everything runs in a network namespace the benchmark creates, never the host's firewall.
set -uo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"
top=$S
tool=$B/tests/integration/runtime/ab-runtime-tool
session=$B/session/argobox-session
wm=$B/wm/argobox-wm
starts=${CB_STARTS:-20} desktops=${CB_DESKTOPS:-20} idle_s=${CB_IDLE_S:-10}
geometry=${CB_GEOMETRY:-1920x1080}
runtime=${RUNTIME:-runc}
[ "$(id -u)" = 0 ] || { echo "container_bench: needs root (skipped)"; exit 0; }
need_built "$tool" "$session"
need_tools "$runtime" jq

tag=$$
ab_tmpdir ab-cbench 755
tmp=$T
hostns=abbench-$tag
G=(--runtime "$runtime" --netns-dir "$tmp/netns" --bundle-root "$tmp/bundles" --prefix "abb$tag-"
	--table "abb$tag" --audit "$tmp/audit.log")
T() { nsenter --net=/run/netns/$hostns "$tool" "${G[@]}" "$@"; }
users=()
netns_add "$hostns"
at_exit 'for u in "${users[@]}"; do T stop --user "$u" >/dev/null 2>&1; done'
mkdir -p "$tmp/netns"

# The desktop: argobox-session (Xvfb + VNC) running argobox-wm when built, else a sleeper.
# The wm finds its wallpapers in the source tree's assets/, as the broker mounts them.
mounts=(--mount "$session:/opt/argobox/argobox-session")
desk=(/usr/bin/sleep infinity)
if [ -x "$wm" ]; then
	mounts+=(--mount "$wm:/opt/argobox/argobox-wm" --mount "$top/assets:$top/assets")
	desk=(/opt/argobox/argobox-wm)
fi
start_one() { # start_one USER INDEX -> prints the runtime's create->ready ms
	local u=$1 i=$2
	mkdir -p "$tmp/run-$u" "$tmp/home-$u"
	T start --user "$u" --role member --index "$i" --rundir "$tmp/run-$u" --home "$tmp/home-$u" \
		--memory $((1 << 30)) --pids 512 --seccomp "$top/containers/seccomp/default.json" "${mounts[@]}" \
		-- /opt/argobox/argobox-session --runtime-dir /run/argobox --geometry "$geometry" \
		--ready-fd 3 -- "${desk[@]}" \
		>/dev/null 2>&1 || return 1
	users+=("$u")
}

# 1. Creation to ready, sequential, each desktop stopped before the next.
e2e=()
for ((n = 0; n < starts; n++)); do
	t0=$(now_us)
	start_one "cb$n" 1 || { echo "container_bench: start failed: $(tail -3 "$tmp/audit.log")" >&2; exit 1; }
	t1=$(now_us)
	e2e+=($(((t1 - t0) / 1000)))
	T stop --user "cb$n" >/dev/null 2>&1
	users=()
done
read -r e2e_med e2e_p95 < <(printf '%s\n' "${e2e[@]}" | stats)
read -r rt_med rt_p95 < <(grep '"event":"container.ready"' "$tmp/audit.log" |
	sed 's/.*"ms":\([0-9]*\).*/\1/' | stats)
# where the time went (container.ready's steps_us): median ms of each step
step() { grep '"event":"container.ready"' "$tmp/audit.log" | head -n "$starts" |
	jq -r --arg k "$1" '.detail.steps_us[$k] / 1000' | stats | cut -d' ' -f1; }
steps="network $(step net) ms, bundle $(step bundle) ms, runc run $(step runtime) ms, session to READY $(step session) ms"

# 2. Network namespace + veth + rules, and their removal.
nb=$(nsenter --net=/run/netns/$hostns "$tool" "${G[@]}" netbench --index 250 --count 50 2>/dev/null)
read -r net_med net_p95 < <(awk '{print $2 / 1000}' <<<"$nb" | stats)
read -r netrm_med netrm_p95 < <(awk '{print $4 / 1000}' <<<"$nb" | stats)

# 3. Density: N idle desktops at once.
for ((n = 1; n <= desktops; n++)); do
	start_one "cd$n" "$n" || { echo "container_bench: desktop $n failed to start" >&2; break; }
done
running=${#users[@]}
sleep 2 # let them settle (the session gives its framebuffer back 1 s after the first size)
declare -A cpu0
for u in "${users[@]}"; do cpu0[$u]=$(cat /sys/fs/cgroup/cpuacct/argobox/$u/cpuacct.usage 2>/dev/null || echo 0); done
sleep "$idle_s"
# Per desktop: every process's PSS (kB, from smaps_rollup; shared pages split among their
# users, so the libraries every desktop maps from the host's /usr count once across them),
# summed per program; the cgroup's kernel memory (memory.kmem.usage_in_bytes: page tables,
# slab, sockets); the cgroup's usage for comparison (it also holds page cache the desktop
# was first to read); and Xvfb's framebuffer file as allocated (inside Xvfb's and the
# session's PSS, which count the pages they map).
declare -A prog_pss prog_anon prog_file prog_shmem
mem_sum=0 pss_sum=0 kmem_sum=0 fb_sum=0 cpu_sum=0 cpu_max=0
for u in "${users[@]}"; do
	mem=$(cat /sys/fs/cgroup/memory/argobox/$u/memory.usage_in_bytes 2>/dev/null || echo 0)
	kmem=$(cat /sys/fs/cgroup/memory/argobox/$u/memory.kmem.usage_in_bytes 2>/dev/null || echo 0)
	for p in $(cat /sys/fs/cgroup/pids/argobox/$u/cgroup.procs 2>/dev/null); do
		c=$(cat /proc/$p/comm 2>/dev/null) || continue
		read -r pss anon file shmem < <(awk '/^Pss:/ {p = $2} /^Pss_Anon:/ {a = $2}
			/^Pss_File:/ {f = $2} /^Pss_Shmem:/ {s = $2} END {print p + 0, a + 0, f + 0, s + 0}' \
			/proc/$p/smaps_rollup 2>/dev/null)
		prog_pss[$c]=$((${prog_pss[$c]:-0} + pss)) prog_anon[$c]=$((${prog_anon[$c]:-0} + anon))
		prog_file[$c]=$((${prog_file[$c]:-0} + file)) prog_shmem[$c]=$((${prog_shmem[$c]:-0} + shmem))
		pss_sum=$((pss_sum + pss))
		if [ "$c" = Xvfb ]; then
			for f in /proc/$p/root/dev/shm/argobox-fb-*/Xvfb_screen0; do
				[ -e "$f" ] && fb_sum=$((fb_sum + $(stat -c '%b * %B' "$f")))
			done
		fi
	done
	c1=$(cat /sys/fs/cgroup/cpuacct/argobox/$u/cpuacct.usage 2>/dev/null || echo 0)
	cpu=$(((c1 - ${cpu0[$u]}) / idle_s)) # ns of CPU per second
	mem_sum=$((mem_sum + mem)) kmem_sum=$((kmem_sum + kmem)) cpu_sum=$((cpu_sum + cpu))
	((cpu > cpu_max)) && cpu_max=$cpu
done
((running)) || running=1
load=$(cut -d' ' -f1 /proc/loadavg)
mib() { awk -v v="$1" -v d="$2" 'BEGIN {printf "%.1f", v / d}'; } # mib VALUE DIVISOR
per_kb=$(((pss_sum * 1024 + kmem_sum) / running / 1024)) # PSS + kernel memory, kB per desktop

printf '\n### Containers (%s, %s, %d starts, %d desktops at %s, %s idle)\n\n' "$runtime" \
	"$([ -x "$wm" ] && echo "session + wm" || echo "session + sleep")" "$starts" "$running" \
	"$geometry" "${idle_s}s"
printf '| metric | value | target |\n|---|---|---|\n'
printf '| start command to Xvfb ready (netns, rules, bundle, runc run, READY), median / p95 | %s / %s ms | < 300 ms |\n' "$e2e_med" "$e2e_p95"
printf '| runtime run to Xvfb ready (runtime_start internal), median / p95 | %s / %s ms | < 300 ms |\n' "$rt_med" "$rt_p95"
printf '| … steps (median): %s | | |\n' "$steps"
printf '| netns + veth + nftables rules, median / p95 | %s / %s ms | < 20 ms |\n' "$net_med" "$net_p95"
printf '| netns + veth + rules removal, median / p95 | %s / %s ms | |\n' "$netrm_med" "$netrm_p95"
printf '| desktops running at once | %d of %d | 20 |\n' "$running" "$desktops"
verdict=$(awk -v k=$per_kb 'BEGIN {print (k <= 40 * 1024 ? "met" : "**missed**")}')
printf '| **memory per idle desktop (PSS of its processes + kernel memory), mean** | **%s MiB** (%s) | ≤ 40 MiB |\n' \
	"$(mib $per_kb 1024)" "$verdict"
for c in $(for k in "${!prog_pss[@]}"; do echo "${prog_pss[$k]} $k"; done | sort -rn | cut -d' ' -f2); do
	printf '| … %s: PSS (anonymous / files / shared memory) | %s MiB (%s / %s / %s) | |\n' "$c" \
		"$(mib ${prog_pss[$c]} $((running * 1024)))" "$(mib ${prog_anon[$c]} $((running * 1024)))" \
		"$(mib ${prog_file[$c]} $((running * 1024)))" "$(mib ${prog_shmem[$c]} $((running * 1024)))"
done
printf '| … kernel memory (cgroup kmem: page tables, slab, sockets) | %s MiB | |\n' "$(mib $kmem_sum $((running * 1048576)))"
printf '| Xvfb framebuffer file in memory (within Xvfb'"'"'s and the session'"'"'s PSS; 32 MiB allocated at 3840x2160) | %s MiB | |\n' \
	"$(mib $fb_sum $((running * 1048576)))"
printf '| desktops per GiB (1024 MiB / memory per desktop) | %s | ≥ 25.6 |\n' "$(awk -v k=$per_kb 'BEGIN {printf "%.1f", 1048576 / k}')"
printf '| %d desktops in total (PSS + kernel memory) | %s MiB | ≤ %d MiB |\n' "$running" \
	"$(mib $((pss_sum * 1024 + kmem_sum)) 1048576)" $((running * 40))
printf '| memory per desktop (cgroup usage: also page cache it read first, e.g. fonts) | %s MiB | |\n' "$(mib $mem_sum $((running * 1048576)))"
printf '| idle CPU per desktop, mean / max | %s%% / %s%% of a core | ~0 |\n' \
	"$(awk -v c=$cpu_sum -v n=$running 'BEGIN {printf "%.2f", c / n / 1e7}')" \
	"$(awk -v c=$cpu_max 'BEGIN {printf "%.2f", c / 1e7}')"
printf '| load average (1 min) with all desktops idle | %s | |\n' "$load"
